"""Evaluate a local checkpoint the way any model is evaluated: rollouts over HTTP, a grader config.

The model answers through ``LocalModelPolicy`` (the rollouts ``Policy`` interface), against the
worlds' tool service over HTTP, graded by the course grader, so a baseline and an after-training
run are the same call with a different checkpoint.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import tempfile
from functools import partial
from typing import Any

import pandas as pd
import torch

from rftkit.analysis.patterns import evidence_files_read, rollout_patterns
from rftkit.course.expert import Habits, ScriptedExpert
from rftkit.course.rewards import REWARDS
from rftkit.course.task import serve_worlds, world_lines
from rftkit.course.tools import EVIDENCE_TOOL
from rftkit.course.worlds import build_world
from rftkit.local.grpo import rollout_items
from rftkit.local.memory import release_free_memory, tune_malloc
from rftkit.local.model import TinyLM
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.tokenizer import Tokenizer, render
from rftkit.protocol import JobTool, Trace
from rftkit.rollouts.traces import is_correct

WORLDS_AT_ONCE = 4
COURSE_EVIDENCE = partial(evidence_files_read, tool=EVIDENCE_TOOL)
"""The course's evidence rule: every evidence path opened by a successful ``read_file``."""


def evaluate(
    model: TinyLM,
    tokenizer: Tokenizer,
    seeds: list[int],
    *,
    tasks_per_world: int = 20,
    temperature: float = 1.0,
    top_p: float = 1.0,
    reward: str = "course",
    max_episode_steps: int = 12,
    seed: int = 0,
) -> pd.DataFrame:
    """One rollout per task; a row per task with reward, correctness, tool calls and the tool-use
    patterns of ``rftkit.analysis.patterns`` (turns, parallel turns, reasoning tokens)."""
    tune_malloc()
    policy = LocalModelPolicy(model, tokenizer, temperature=temperature, top_p=top_p, seed=seed)
    grader = REWARDS[reward]()
    model.eval()
    with tempfile.TemporaryDirectory() as directory:
        worlds = [build_world(seed, directory) for seed in seeds]
        work = [world_lines(world, tasks_per_world) for world in worlds]
        with serve_worlds(worlds) as served:
            tools = served.job_tools()
            traces = _rollout_chunks(policy, work, tools, grader, max_episode_steps)
    release_free_memory()
    items = {item["task_id"]: item for lines in work for item in lines}
    patterns = rollout_patterns(traces, items, COURSE_EVIDENCE).set_index("trace_id")
    rows = []
    for trace in traces:
        item, pattern = items[trace.item_id], patterns.loc[trace.trace_id]
        rows.append(
            {
                "task_id": trace.item_id,
                "task_type": item["task_type"],
                "status": trace.status,
                "reward": trace.reward,
                "correct": float(is_correct(trace)) if trace.reward is not None else math.nan,
                "tool_calls": trace.tool_calls,
                "min_tool_calls": item["min_tool_calls"],
                "turns": int(pattern["turns"]),
                "tool_turns": int(pattern["tool_turns"]),
                "parallel_turns": int(pattern["parallel_turns"]),
                "reasoning_tokens": int(pattern["reasoning_tokens"]),
                "answer": trace.sample.output_text if trace.sample else "",
                "reference": item["reference_answer"],
            }
        )
    return pd.DataFrame(rows)


def _rollout_chunks(
    policy: LocalModelPolicy,
    work: list[list[dict[str, Any]]],
    tools: list[JobTool],
    grader: dict[str, Any],
    max_episode_steps: int,
) -> list[Trace]:
    """One rollout per line, a few worlds at a time: every rollout in flight holds sockets,
    grader pipes and memory."""
    traces = []
    for start in range(0, len(work), WORLDS_AT_ONCE):
        chunk = [line for lines in work[start : start + WORLDS_AT_ONCE] for line in lines]
        with torch.no_grad():
            traces += asyncio.run(rollout_items(policy, chunk, tools, grader, 1, max_episode_steps))
    return traces


def parallel_turn_share(frame: pd.DataFrame) -> float:
    """The share of the rows' tool turns that made two or more calls (0 with no tool turns)."""
    return round(float(frame["parallel_turns"].sum() / max(frame["tool_turns"].sum(), 1)), 4)


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """Accuracy (overall and per task type), mean reward with its standard error, tool calls and
    their ratio to the minimum, turns, the share of tool turns with parallel calls (overall and
    per task type), reasoning tokens."""
    scored = frame.dropna(subset=["reward"])
    n = len(scored)
    sd = statistics.stdev(scored["reward"]) if n > 1 else math.nan
    return {
        "tasks": n,
        "accuracy": round(float(scored["correct"].mean()), 4),
        "reward_mean": round(float(scored["reward"].mean()), 4),
        "reward_se": round(sd / math.sqrt(n), 4) if n > 1 else math.nan,
        "tool_calls_mean": round(float(scored["tool_calls"].mean()), 3),
        "tool_calls_ratio": round(
            float(scored["tool_calls"].sum() / scored["min_tool_calls"].sum()), 3
        ),
        "turns_mean": round(float(scored["turns"].mean()), 3),
        "parallel_turn_share": parallel_turn_share(scored),
        "reasoning_tokens_mean": round(float(scored["reasoning_tokens"].mean()), 3),
        "accuracy_by_type": {
            str(kind): round(float(group["correct"].mean()), 4)
            for kind, group in scored.groupby("task_type")
        },
        "parallel_turn_share_by_type": {
            str(kind): parallel_turn_share(group) for kind, group in scored.groupby("task_type")
        },
    }


def teacher_forced_accuracy(
    model: TinyLM, tokenizer: Tokenizer, seeds: list[int], *, tasks_per_world: int = 40
) -> pd.DataFrame:
    """How often the model's top token is the scripted expert's, by what the token is.

    Kinds: ``call`` / ``answer`` (tokens of a tool call or of the answer) crossed with ``slot``
    (a copied figure or identifier) or ``word``. A base model that writes calls well but copies
    the wrong figure into its answers shows it as a low ``answer slot`` row.
    """
    hits: list[tuple[str, bool]] = []
    call, answer = tokenizer.id("<call>"), tokenizer.id("<answer>")
    model.eval()
    with tempfile.TemporaryDirectory() as directory:
        for seed in seeds:
            local = build_world(seed, directory)
            expert = ScriptedExpert(local.world, local.corpus(), Habits(), random.Random(seed))
            for task in local.tasks[:tasks_per_world]:
                row = render(tokenizer, expert.solve(task).items)
                if len(row.ids) > model.config.block_size:
                    continue
                with torch.no_grad():
                    predicted = model(torch.tensor([row.ids[:-1]])).argmax(-1)[0].tolist()
                turn = "call"
                for position, token in enumerate(row.ids):
                    if token in (call, answer):
                        turn = "call" if token == call else "answer"
                    if position == 0 or not row.trained[position]:
                        continue
                    kind = f"{turn} {'slot' if tokenizer.is_slot(token) else 'word'}"
                    hits.append((kind, predicted[position - 1] == token))
    frame = pd.DataFrame(hits, columns=["tokens", "hit"])
    table = frame.groupby("tokens")["hit"].agg(count="size", accuracy="mean").reset_index()
    return table.round({"accuracy": 3})
