"""Wiring test of the TRL backend: it learns nothing and claims nothing about training quality.

It runs the real adapter (``rftkit.trl``) through TRL's real ``GRPOTrainer`` for two steps on the
CPU, with a tiny random Qwen2 model and a tokenizer both built here (no model hub), TRL's own
Qwen2.5 chat template, the course's real tool service on loopback and the real course grader.
What it checks is the plumbing: tools are called over HTTP in the wire format with one distinct
``trace_id`` per rollout, rewards are the grader's, a tool that answers 503 gets a rollout
discarded (never scored), and events in the kit's layout are written.

A random model almost never writes a well-formed tool call, so before GRPO the tiny model is
fitted for a few seconds on the opening turn its rollouts should make (a ``search`` call); what
it does after the tool answers is whatever it samples.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import time

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


from rftkit.analysis.events import grader_frame, metrics_frame  # noqa: E402
from rftkit.course.grader import course_grader  # noqa: E402
from rftkit.course.task import CourseTaskSize, write_course_task  # noqa: E402
from rftkit.course.worlds import GRPO_SEEDS, VALID_SEEDS, build_world, world_seeds  # noqa: E402
from rftkit.graders import run_grader  # noqa: E402
from rftkit.protocol import Sample  # noqa: E402
from rftkit.serving import serve_in_background  # noqa: E402
from rftkit.trl.backend import LocalRunFolder, TRLModalJob  # noqa: E402
from rftkit.trl.tiny import tiny_model_that_opens_with_a_call  # noqa: E402
from rftkit.trl.trainer import build_trainer  # noqa: E402
from tools_service.app import TOKEN_ENV, create_app  # noqa: E402

SIZE = CourseTaskSize(train_worlds=1, train_per_world=2, valid_worlds=1, valid_per_world=2)


class DownForLines:
    """ASGI wrapper: answers 503 to tool calls whose dataset line is one of ``task_ids`` (a
    replica that is down for them) and passes every other request to the real service. Records
    the ``trace_id`` and outcome of every call it sees."""

    def __init__(self, app, task_ids: set[str]):
        self.app, self.task_ids, self.seen = app, task_ids, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        call = json.loads(body)
        down = call["item"].get("task_id") in self.task_ids
        self.seen.append((call["trace_id"], call["item"]["task_id"], 503 if down else None))
        if down:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            return await send({"type": "http.response.body", "body": b"unavailable"})
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The course task (tiny), its real multi-world tool service behind ``DownForLines``."""
    root = tmp_path_factory.mktemp("trl-course")
    seeds = world_seeds(GRPO_SEEDS, SIZE.train_worlds) + world_seeds(VALID_SEEDS, SIZE.valid_worlds)
    corpora = {seed: build_world(seed, root / "worlds").corpus() for seed in seeds}
    token = "test-token-for-loopback-only"
    broken: set[str] = set()
    wrapper = DownForLines(create_app(corpora, token=token), broken)
    with serve_in_background(wrapper) as url:
        task = write_course_task(root, url, SIZE)
        task.hyperparameters = {
            "n_epochs": 1,
            "batch_size": 2,
            "compute_multiplier": 0.25,
            "eval_interval": 2,
            "eval_samples": 1,
        }
        broken.add(task.items("train")[1]["task_id"])
        yield task, {TOKEN_ENV: token}, wrapper, url


@pytest.fixture(scope="module")
def tiny(served):
    """The fitted tiny model and its tokenizer (each run trains a copy)."""
    task, env, _, _ = served
    return tiny_model_that_opens_with_a_call(task, env)


@pytest.fixture(scope="module")
def run(served, tiny, tmp_path_factory):
    task, env, wrapper, _ = served
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    out = tmp_path_factory.mktemp("trl-run")
    built = build_trainer(
        task,
        model,
        tokenizer,
        out,
        env=env,
        retry_backoff=0.01,
        call_timeout=10,
        overrides={
            "max_steps": 2,
            "use_cpu": True,
            "bf16": False,
            "max_completion_length": 160,
            "temperature": 0.7,
            "dataloader_num_workers": 0,
            "learning_rate": 1e-4,
        },
    )
    built.trainer.train()
    return built, out


def test_rollouts_call_the_real_tool_service_with_one_trace_id_each(run, served):
    built, _ = run
    task, env, wrapper, url = served
    rollouts = [r for r in built.reward.rollouts]
    assert len({r.trace_id for r in rollouts}) == len(rollouts)
    called = [r for r in rollouts if r.tool_calls]
    assert len(called) >= len(rollouts) // 2, (
        "the fitted model should open most rollouts with a call"
    )
    seen_ids = {trace_id for trace_id, _, _ in wrapper.seen}
    assert {r.trace_id for r in called} == seen_ids
    headers = {"Authorization": f"Bearer {env[TOKEN_ENV]}"}
    healthy = [r for r in called if not r.discarded]
    assert healthy
    for rollout in healthy:  # the service logged exactly this rollout's calls under its id
        log = httpx.get(f"{url}/traces/{rollout.trace_id}", headers=headers).json()
        assert len(log["calls"]) == rollout.tool_calls


def test_a_tool_answering_503_discards_the_rollout_after_three_retries(run, served):
    built, _ = run
    task, _, wrapper, _ = served
    broken = task.items("train")[1]["task_id"]
    on_broken = [r for r in built.reward.rollouts if r.item_id == broken and r.tool_calls]
    assert on_broken, "the broken line was rolled out with a call"
    for rollout in on_broken:
        assert rollout.reward is None and "HTTP 503 after 3 retries" in rollout.error
        attempts = [s for t, _, s in wrapper.seen if t == rollout.trace_id]
        assert attempts == [503] * 4  # 1 + 3 retries, then no further call reaches the network
    assert not [r for r in built.reward.rollouts if r.item_id != broken and r.discarded]


def test_rewards_are_the_course_graders(run):
    built, _ = run
    scored = [r for r in built.reward.rollouts if not r.discarded]
    assert scored
    grader = course_grader()
    assert set(scored[0].sub_rewards) == set(grader["graders"])
    # TRL's own logged step reward is the mean over the scored rollouts of that step only
    train_logs = [h for h in built.trainer.state.log_history if "reward" in h and "loss" in h]
    step_one = [r for r in built.reward.rollouts if r.split == "train"][:4]
    kept = [r.reward for r in step_one if r.reward is not None]
    assert train_logs[0]["reward"] == pytest.approx(sum(kept) / len(kept), abs=1e-5)


def test_grader_scores_equal_a_direct_run_of_the_grader(served):
    """The reward function against run_grader on the same sample and line (no trainer)."""
    from rftkit.protocol import FunctionSpec, ToolCall
    from rftkit.trl.environment import Rollout
    from rftkit.trl.rewards import TaskReward

    task, env, _, _ = served
    item = task.items("train")[0]
    calls = [ToolCall(id="call_1", function=FunctionSpec(name="search", arguments="{}"))]

    class Finished:
        def _finish(self):
            return Rollout("trace_x", item, tool_calls=calls)

    reward = TaskReward(task.resolved_grader(env))
    answer = item["reference_answer"]
    got = reward([None], [[{"role": "assistant", "content": answer}]], [[1, 2]], [Finished()])
    expected = run_grader(course_grader(), Sample.from_text(answer, calls), item).reward
    assert got == [pytest.approx(expected)] and expected > 0


def test_events_are_written_in_the_kits_layout(run):
    built, out = run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events == built.writer.events
    metrics = [e for e in events if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == [1, 2]
    frame = metrics_frame(events)
    assert list(frame["step"]) == [1, 2]
    assert frame["valid_reward_mean"].notna().tolist() == [False, True]
    for column in (
        "tool_calls_per_rollout",
        "tool_call_error_rate",
        "rollouts_without_successful_tool_call",
        "completion_tokens_mean",
        "discarded_rollouts",
        "timing.step.full_iteration",
    ):
        assert column in frame.columns
    assert frame.loc[1, "discarded_rollouts"] + frame.loc[2, "discarded_rollouts"] >= 1
    graders = grader_frame(events)
    assert set(graders["grader"]) == set(course_grader()["graders"])
    assert set(graders["split"]) == {"train", "valid"}


def test_the_jobs_backend_reads_the_run_folder_like_a_modal_job(run):
    """The same layout the Modal app writes to its volume: events and a servable checkpoint."""
    built, out = run
    job = TRLModalJob("ftjob-trl-wiring", LocalRunFolder(out))
    assert job.events() == built.writer.events
    [checkpoint] = job.checkpoints()  # save_steps = eval_interval = 2
    valid = metrics_frame(job.events()).loc[2, "valid_reward_mean"]
    assert checkpoint["step_number"] == 2
    assert checkpoint["metrics"]["valid_reward_mean"] == pytest.approx(valid)
    saved = out / "checkpoint-2"
    assert (saved / "config.json").is_file() and (saved / "tokenizer_config.json").is_file()


class SlowForLines:
    """ASGI wrapper: holds every tool call ``delay`` seconds (``slow_delay`` for the lines in
    ``slow``), then passes it to the real service; records (trace_id, task_id, start, end)."""

    def __init__(self, app, slow: set[str], delay: float, slow_delay: float):
        self.app, self.slow, self.delay, self.slow_delay = app, slow, delay, slow_delay
        self.seen: list[tuple[str, str, float, float]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        message = await receive()
        body = message.get("body", b"")
        call = json.loads(body)
        task_id = call["item"]["task_id"]
        start = time.monotonic()
        await asyncio.sleep(self.slow_delay if task_id in self.slow else self.delay)
        self.seen.append((call["trace_id"], task_id, start, time.monotonic()))

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def test_one_slow_endpoint_discards_only_its_rollouts_and_calls_overlap(
    tiny, served, tmp_path_factory
):
    """Per-rollout clock and concurrent tools through the real trainer: one line's calls take
    3 s against a 2.5 s rollout budget, every other call 0.2 s. Rollouts' calls are in flight
    together, and only the slow line's rollouts are discarded."""
    task, env, _, _ = served
    root = tmp_path_factory.mktemp("trl-slow")
    seeds = world_seeds(GRPO_SEEDS, SIZE.train_worlds) + world_seeds(VALID_SEEDS, SIZE.valid_worlds)
    corpora = {seed: build_world(seed, root / "worlds").corpus() for seed in seeds}
    slow: set[str] = set()
    wrapper = SlowForLines(create_app(corpora, token=env[TOKEN_ENV]), slow, 0.2, 3.0)
    with serve_in_background(wrapper) as url:
        slow_task = write_course_task(root, url, SIZE)
        slow_task.hyperparameters = dict(task.hyperparameters)
        slow_task.validation_file = None
        slow.add(slow_task.items("train")[0]["task_id"])
        built = build_trainer(
            slow_task,
            copy.deepcopy(tiny[0]),
            tiny[1],
            root / "out",
            env=env,
            call_timeout=10,
            rollout_timeout=2.5,
            overrides={
                "max_steps": 1,
                "use_cpu": True,
                "bf16": False,
                "max_completion_length": 160,
                "temperature": 0.7,
                "dataloader_num_workers": 0,
            },
        )
        built.trainer.train()
    rollouts = [r for r in built.reward.rollouts if r.tool_calls]
    on_slow = [r for r in rollouts if r.item_id in slow]
    others = [r for r in rollouts if r.item_id not in slow]
    assert on_slow and others, "both lines were rolled out with a call"
    assert all(r.discarded and "tool time" in r.error for r in on_slow)
    assert not [r for r in others if r.discarded]
    spans = [(t, s, e) for t, line, s, e in wrapper.seen if line not in slow]  # 0.2 s calls
    overlapping = {
        (a, b) for a, s1, e1 in spans for b, s2, e2 in spans if a != b and s1 < e2 and s2 < e1
    }
    assert overlapping, "calls of different rollouts were in flight at the same time"
