"""Choosing and shipping a checkpoint of a course run (notebook 06).

A GRPO job keeps a checkpoint at every validation (``step-N.pt``). The one to ship is chosen on
the job's **validation** lines, never on the held-out items that then measure it, and never by
train reward (each step's batch is new, so train reward is mostly noise). Each checkpoint is
evaluated ``k`` times per validation line with the same seeded rollouts; the selection table
gives every mean with its standard error over lines, so a checkpoint "wins" only by more than
its noise.

Latency is measured on the evaluation itself, one rollout at a time and interleaved between the
models (base, trained, base, trained …), so both see the same machine: a rollout's time then
splits into model time (its generation spans), tool time (its tool calls over HTTP) and the rest
(the rollout engine and grading). In a concurrent run the generation spans also hold the wait for
the shared model and the CPU: that wait is queueing, not the model's speed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rftkit.analysis import paired
from rftkit.analysis.paired import mean_se
from rftkit.course.rewards import latency_grader_supported
from rftkit.course.session import course_session
from rftkit.course.task import serve_course_task
from rftkit.evaluation.agreement import GateDecision
from rftkit.evaluation.redteam import RedTeamReport
from rftkit.local.checkpoint import load_model
from rftkit.local.policy import LocalModelPolicy
from rftkit.protocol import Trace
from rftkit.rollouts import run_rollouts_sync, traces_frame

HELDOUT_TASKS_PER_WORLD = 20
MAX_EPISODE_STEPS = 12


def save_half_precision(source: str | Path, target: str | Path) -> Path:
    """``source`` (a checkpoint ``load_model`` reads) with its weights in float16: half the bytes.
    ``load_model`` reads it unchanged (``load_state_dict`` casts back to float32); evaluate the
    half-precision file itself, since rounding the weights can flip a sampled token."""
    state = torch.load(source, map_location="cpu", weights_only=False)
    state["state"] = {
        k: v.half() if v.is_floating_point() else v for k, v in state["state"].items()
    }
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    return target


def rollouts(
    policy: LocalModelPolicy,
    items: Sequence[dict[str, Any]],
    tools: Sequence[Any],
    *,
    k: int = 1,
    concurrency: int = 32,
) -> list[Trace]:
    """``k`` rollouts of every item by ``policy`` (its seeded streams), graded by the demo's
    reward (the latency reward with the support term)."""
    return run_rollouts_sync(
        items,
        policy,
        tools=tools,
        grader=latency_grader_supported(),
        repeats=k,
        concurrency=concurrency,
        max_episode_steps=MAX_EPISODE_STEPS,
        progress=False,
    )


def validation_rows(
    checkpoints: Mapping[str, str | Path], *, k: int = 2, seed: int = 0
) -> pd.DataFrame:
    """Each checkpoint (name -> file) on the course task's validation lines (the ones the job
    validated on), ``k`` seeded rollouts per line: :func:`selection_rows` of them all."""
    traces = {}
    with serve_course_task(grader=latency_grader_supported()) as course:
        items = course.task.items("validation")
        tools = course.task.job_tools(course.env)
        for name, path in checkpoints.items():
            policy = LocalModelPolicy(*load_model(path), temperature=1.0, seed=seed)
            traces[name] = rollouts(policy, items, tools, k=k)
    return selection_rows(traces)


def evaluate_heldout(
    models: Mapping[str, tuple[Any, Any]],
    seeds: Sequence[int] = (100, 101),
    *,
    n: int = HELDOUT_TASKS_PER_WORLD,
    k: int = 1,
    seed: int = 0,
) -> dict[str, list[Trace]]:
    """Each model (name -> (model, tokenizer)) on the held-out worlds' first ``n`` items, ``k``
    seeded rollouts each, item ids as ``rftkit demo`` writes them (``w{seed}-t0001``).

    One rollout at a time, the models taking turns on each item, so their latencies are measured
    under the same load, and each rollout's tokens do not depend on which other rollouts shared
    its batch (a re-run gives the same rollouts).
    """
    traces: dict[str, list[Trace]] = {name: [] for name in models}
    with ExitStack() as stack:
        for world in seeds:
            session = stack.enter_context(course_session(world, style="compact", n=n))
            items = [{**i, "task_id": f"w{world}-{i['task_id']}"} for i in session.items]
            policies = {
                name: LocalModelPolicy(model, tokenizer, temperature=1.0, seed=seed)
                for name, (model, tokenizer) in models.items()
            }
            for item in items:
                for _ in range(k):
                    for name, policy in policies.items():
                        traces[name] += rollouts(policy, [item], session.job_tools, concurrency=1)
    return traces


def selection_table(rows: pd.DataFrame, base: str = "base") -> pd.DataFrame:
    """Per checkpoint (``checkpoint`` column, in order of appearance): mean reward, accuracy and
    each sub-score over validation lines, with standard errors over lines (each line's ``k``
    rollouts averaged first, so repeats of one line are not counted as independent), and the
    reward's gain over the ``base`` row with its paired standard error (line by line, so the
    lines' difficulty cancels)."""
    out = {}
    subs = [c for c in rows.columns if c.startswith("score/")]
    lines = {
        name: frame.groupby("item_id")[["reward", "correct", *subs]].mean().astype(float)
        for name, frame in rows.groupby("checkpoint", sort=False)
    }
    for name, per_line in lines.items():
        row: dict[str, float] = {}
        for column in ["reward", "correct", *subs]:
            label = "accuracy" if column == "correct" else column.removeprefix("score/")
            row[label], row[f"{label} SE"] = mean_se(per_line[column])
        if base in lines:
            ours, theirs = per_line["reward"].align(lines[base]["reward"], join="inner")
            row["gain"], row["gain SE"] = mean_se(ours - theirs)
        row["tool calls"] = float(rows.loc[rows["checkpoint"] == name, "tool_calls"].mean())
        row["lines"] = len(per_line)
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("checkpoint")


def selection_rows(traces: Mapping[str, Sequence[Trace]]) -> pd.DataFrame:
    """One row per scored rollout of each checkpoint: reward, correct, sub-scores, tool calls."""
    frames = []
    for name, run in traces.items():
        frame = traces_frame(run)
        subs = pd.DataFrame(
            [dict((t.grader_result or {}).get("sub_rewards", {})) for t in run], index=frame.index
        ).add_prefix("score/")
        frame = pd.concat([frame, subs], axis=1)
        frame.insert(0, "checkpoint", name)
        frames.append(frame[frame["reward"].notna()])
    columns = ["checkpoint", "item_id", "repeat", "reward", "correct", "tool_calls", "turns"]
    rows = pd.concat(frames, ignore_index=True)
    return rows[columns + [c for c in rows.columns if c.startswith("score/")]]


def paired_change(
    before: pd.DataFrame, after: pd.DataFrame, column: str = "reward"
) -> dict[str, float]:
    """:func:`rftkit.analysis.paired.paired_change` as the plain dict :func:`ship_decision` and
    notebook 05 read: ``before``, ``after``, ``change``, its paired ``se`` and ``items``."""
    c = paired.paired_change(before, after, column)
    return {"before": c.before, "after": c.after, "change": c.change, "se": c.change_se,
            "items": c.items}  # fmt: skip


def _covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval: calls made together in one turn overlap, and
    the time they took together is what the rollout waited."""
    total, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def latency_split(traces: Iterable[Trace]) -> pd.DataFrame:
    """Per rollout: wall time, model time (its generation spans), tool time (the time at least
    one tool call was in flight: parallel calls count once) and the rest (engine, grading,
    waiting between spans), in seconds."""
    rows = []
    for trace in traces:
        spans = [(s.span_data.type, s.started_at, s.ended_at) for s in trace.spans]
        total = trace.ended_at - trace.started_at
        model = _covered([(a, b) for kind, a, b in spans if kind == "generation"])
        tools = _covered([(a, b) for kind, a, b in spans if kind == "function"])
        rows.append(
            {"item_id": trace.item_id, "rollout_s": total, "model_s": model, "tool_s": tools,
             "other_s": max(total - model - tools, 0.0)}
        )  # fmt: skip
    return pd.DataFrame(rows)


def latency_table(runs: Mapping[str, Iterable[Trace]]) -> pd.DataFrame:
    """p50 and p95 of each part of a rollout's time, per run (rows)."""
    out = {}
    for name, traces in runs.items():
        frame = latency_split(traces)
        row = {}
        for part in ("rollout_s", "model_s", "tool_s", "other_s"):
            row[f"{part} p50"] = float(frame[part].quantile(0.5))
            row[f"{part} p95"] = float(frame[part].quantile(0.95))
        row["rollouts"] = len(frame)
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index")


@dataclass(frozen=True)
class ShipDecision:
    """The ship checklist, one row per check (``check``, ``passed``, ``evidence``), decided
    before the figures are read: every check must pass."""

    rows: pd.DataFrame

    @property
    def ship(self) -> bool:
        return bool(self.rows["passed"].all())

    def __str__(self) -> str:
        lines = [
            f"{'pass' if row.passed else 'FAIL'}  {row.check}: {row.evidence}"
            for row in self.rows.itertuples()
        ]
        verdict = "SHIP" if self.ship else "DO NOT SHIP"
        failed = ", ".join(self.rows.loc[~self.rows["passed"], "check"])
        return "\n".join([*lines, verdict + (f" (failed: {failed})" if failed else "")])


def ship_decision(
    reward: Mapping[str, float],
    accuracy: Mapping[str, float],
    redteam: RedTeamReport,
    gate: GateDecision,
    *,
    z: float = 2.0,
) -> ShipDecision:
    """The checklist for a checkpoint measured on held-out items against the base
    (:func:`paired_change` of reward and of accuracy): reward up by more than ``z`` paired
    standard errors, accuracy not down by more than ``z``, and the reward that trained it passed
    its red team and its κ gate (notebook 03)."""
    rows = [
        ("held-out reward rose beyond noise", reward["change"] > z * reward["se"],
         f"{reward['change']:+.3f} ± {reward['se']:.3f} (needs > {z:g} SE)"),
        ("held-out accuracy held", accuracy["change"] > -z * accuracy["se"],
         f"{accuracy['change']:+.3f} ± {accuracy['se']:.3f} (fails below -{z:g} SE)"),
        ("the reward passed its red team", redteam.ok,
         "; ".join(redteam.problems()) or "no probe paid above the threshold"),
        ("the reward passed its κ gate", gate.passed, gate.reason),
    ]  # fmt: skip
    return ShipDecision(pd.DataFrame(rows, columns=["check", "passed", "evidence"]))
