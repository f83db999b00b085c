"""What a job will do and cost, from a baseline's measured rollouts and the task's hyperparameters.

The arithmetic (each line a row of :meth:`Forecast.table`):

- steps = ceil(n_epochs × training lines ÷ batch_size); rollouts per step = batch_size × rollouts
  per prompt; validation every ``eval_interval`` steps on every validation line ``eval_samples``
  times;
- tool traffic: every rollout of a step starts at the step boundary, so an endpoint that the
  baseline's rollouts call may get up to one request per rollout at once (the **peak simultaneous
  requests**, compared with the 50 QPS endpoints are asked to handle, docs/hosted-api.md §4.3), and
  ``calls per rollout × rollouts per step ÷ rollout latency`` on average over the step;
- wall time: per step the slowest rollouts (p50 .. p95 seconds per rollout, plus grader latency)
  plus a per-step training overhead; the range is low .. high. Seconds per rollout are, in this
  order: ``rollout_s=`` when the caller measured them (a job's triage seconds ÷ its rollouts);
  the baseline's latency when a model ran it; and when the baseline is scripted (no model
  tokens: its latency is the tools' alone, about 0) :attr:`Assumptions.scripted_floor_s`. The
  forecast's notes say which. The local backend's triage (at most ``triage_repeats``
  rollouts of every training line before the first step; a line whose first two rewards differ
  gets no third) is counted at that most, one rollout after another;
- cost: wall hours × the price table's hourly rate (``rftkit.jobs.platforms.PRICES``, editable,
  each row with its source and date); model-grader tokens are counted and priced only when
  ``grader_usd_per_million_tokens`` is given.

Hosted hyperparameters left on ``auto`` and the rollouts per prompt are not published; the
assumptions used are in :class:`Assumptions` (edit them; the defaults are the hosted column of
``rftkit.hyperparameters.AUTO``) and listed in the forecast's notes. The local backend uses
its own mapping (``rftkit.local.hyperparameters``) instead.

Example::

    profile = RolloutProfile.from_baseline(baseline)
    fc = forecast(task, profile, "azure")
    fc.table(); fc.endpoints(); fc.problems()
    compare(fc, job)            # after the job: forecast next to actual
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rftkit.hyperparameters import AUTO, resolve
from rftkit.jobs.platforms import AZURE_AUTO_PAUSE_USD, PRICES, Price, price_for
from rftkit.protocol import Trace
from rftkit.rollouts import traces_frame
from rftkit.task import RFTTask

ENDPOINT_QPS = 50
"""Requests per second a tool endpoint should handle (Microsoft's Agent RFT preview README)."""


@dataclass(frozen=True)
class Assumptions:
    """What the forecast assumes where nothing is published. Defaults: the auto values are those
    of OpenAI's own Agent RFT build-hour job (build-hours ``20-agent-rft``)."""

    auto: dict[str, float] = field(default_factory=lambda: dict(AUTO["openai"]))
    """The hosted column of ``rftkit.hyperparameters.AUTO`` unless replaced."""
    rollouts_per_prompt_at_1: int = 8
    """Rollouts per prompt at ``compute_multiplier=1`` (unpublished)."""
    step_overhead_s: tuple[float, float] = (30.0, 180.0)
    """Training and bookkeeping per step beyond sampling (unpublished; a wide range)."""
    scripted_floor_s: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"local": (0.5, 1.0), "hosted": (10.0, 60.0)}
    )
    """Seconds per rollout (p50, p95) when the baseline is scripted, so no model was timed: an
    assumption, not a measurement (the local engine's small CPU model; a hosted reasoning model
    that calls tools). Measure and pass ``forecast(..., rollout_s=...)`` when you can."""


@dataclass(frozen=True)
class RolloutProfile:
    """Per-rollout figures measured on a baseline (means unless said)."""

    rollouts: int
    latency_p50_s: float
    latency_p95_s: float
    tool_calls: float
    calls_by_tool: dict[str, float]
    tool_latency_s: float
    """Mean seconds per tool call."""
    grader_latency_s: float
    input_tokens: float
    output_tokens: float
    reasoning_tokens: float
    grader_tokens: float

    @classmethod
    def from_traces(cls, traces: Sequence[Trace]) -> RolloutProfile:
        """The profile of rollouts already run (a baseline's ``traces``); discarded ones count."""
        if not traces:
            raise ValueError("a forecast needs at least one measured rollout")
        frame = traces_frame(traces)
        calls = pd.Series([n for seq in frame["tool_sequence"] for n in seq], dtype=object)
        grader_s, grader_tokens = [], []
        for trace in traces:
            result = trace.grader_result or {}
            grader_s.append(float((result.get("metadata") or {}).get("execution_time") or 0.0))
            usage = result.get("model_grader_token_usage_per_model") or {}
            grader_tokens.append(sum(float(u.get("total_tokens") or 0) for u in usage.values()))
        total_calls = int(frame["tool_calls"].sum())
        return cls(
            rollouts=len(frame),
            latency_p50_s=float(frame["latency_s"].median()),
            latency_p95_s=float(frame["latency_s"].quantile(0.95)),
            tool_calls=float(frame["tool_calls"].mean()),
            calls_by_tool={str(k): v / len(frame) for k, v in calls.value_counts().items()},
            tool_latency_s=float(frame["tool_latency_s"].sum() / total_calls) if total_calls else 0,
            grader_latency_s=sum(grader_s) / len(grader_s),
            input_tokens=float(frame["input_tokens"].mean()),
            output_tokens=float(frame["output_tokens"].mean()),
            reasoning_tokens=float(frame["reasoning_tokens"].mean()),
            grader_tokens=sum(grader_tokens) / len(grader_tokens),
        )

    @classmethod
    def from_baseline(cls, baseline: Any) -> RolloutProfile:
        """The profile of a :class:`rftkit.evaluation.baseline.Baseline` run."""
        return cls.from_traces(baseline.traces)

    @property
    def scripted(self) -> bool:
        """No model tokens in any rollout: a scripted policy, whose latency is not a model's."""
        return self.input_tokens == 0 and self.output_tokens == 0 and self.reasoning_tokens == 0


@dataclass(frozen=True)
class Plan:
    """The job's shape: what the hyperparameters come to on this backend."""

    steps: int
    rollouts_per_step: int
    evals: int
    eval_rollouts: int
    notes: tuple[str, ...]
    triage_rollouts: int = 0
    """Rollouts before the first step, at most (the local backend's learnability triage)."""

    @property
    def rollouts(self) -> int:
        return self.steps * self.rollouts_per_step + self.eval_rollouts + self.triage_rollouts


def plan(task: RFTTask, backend: str, assumptions: Assumptions = Assumptions()) -> Plan:
    """Steps and rollouts for ``task`` on ``backend`` (the local mapping, or the hosted one)."""
    n_train, n_valid = len(task.items("train")), len(task.items("validation"))
    if backend == "local":
        from rftkit.local.hyperparameters import grpo_config

        config, notes = grpo_config(task, n_train)
        # every eval_interval steps and at the last step, plus the starting model as step 0
        evals = math.ceil(config.steps / config.eval_interval) + int(config.validate_base)
        tried = min(n_train, config.triage_tasks) if config.triage_tasks else n_train
        return Plan(
            config.steps,
            config.tasks_per_step * config.group_size,
            evals,
            evals * n_valid * config.valid_repeats,
            tuple(notes),
            triage_rollouts=tried * config.triage_repeats,
        )
    hyper, left = resolve(task.hyperparameters, backend, {**AUTO[backend], **assumptions.auto})
    read = ("batch_size", "n_epochs", "compute_multiplier", "eval_interval", "eval_samples")
    notes = [f"{name} is auto: assumed {hyper[name]}" for name in read if name in left]
    batch = int(hyper["batch_size"])
    steps = max(1, math.ceil(hyper["n_epochs"] * n_train / batch))
    per_prompt = max(1, round(assumptions.rollouts_per_prompt_at_1 * hyper["compute_multiplier"]))
    notes.append(
        f"{per_prompt} rollouts per prompt assumed ({assumptions.rollouts_per_prompt_at_1} at "
        "compute_multiplier=1; the platforms do not publish it)"
    )
    evals = steps // int(hyper["eval_interval"])
    eval_rollouts = evals * n_valid * int(hyper["eval_samples"])
    return Plan(steps, batch * per_prompt, evals, eval_rollouts, tuple(notes))


@dataclass(frozen=True)
class Forecast:
    """The forecast for one task on one backend: the plan, time, cost and tool traffic.

    Every backend's ``forecast`` returns one. The hosted and local ones start from a baseline's
    measured rollouts (``profile``); TRL's from planned steps × seconds per step, with no
    profile, its own figures in ``figures`` (``fc["gpu_hours"]`` reads one, as the dict TRL's
    forecast was) and the job it would run in ``detail``."""

    task_name: str
    backend: str
    model: str
    plan: Plan
    profile: RolloutProfile | None
    wall_hours: tuple[float, float]
    cost_usd: tuple[float, float] | None
    price: Price | None
    tool_urls: dict[str, str]
    grader_tokens: float
    notes: tuple[str, ...]
    figures: dict[str, Any] = field(default_factory=dict)
    """Backend-specific figures (TRL: GPU-hours, seconds per step and its source, the ceiling)."""
    detail: pd.DataFrame | None = None
    """A backend's own breakdown, printed under the table (TRL: the job it would run)."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.figures:
            raise KeyError(f"{key!r} is not among this forecast's figures: {sorted(self.figures)}")
        return self.figures[key]

    def endpoints(self) -> pd.DataFrame:
        """Per endpoint URL: calls per rollout, peak simultaneous requests at a step boundary,
        average QPS over a step, and whether the peak exceeds the 50 QPS endpoints should take."""
        rows = []
        if self.profile is None:  # nothing measured: no traffic to show
            return pd.DataFrame(rows)
        for url in sorted(set(self.tool_urls.values())):
            tools = sorted(n for n, u in self.tool_urls.items() if u == url)
            per_rollout = sum(self.profile.calls_by_tool.get(n, 0.0) for n in tools)
            peak = round(self.plan.rollouts_per_step * min(1.0, per_rollout))
            step_s = max(self.figures.get("rollout_s", (self.profile.latency_p50_s,))[0], 1e-9)
            rows.append(
                {
                    "endpoint": url,
                    "tools": ", ".join(tools),
                    "calls per rollout": round(per_rollout, 2),
                    "peak simultaneous requests": peak,
                    "mean QPS over a step": round(
                        per_rollout * self.plan.rollouts_per_step / step_s, 1
                    ),
                    f"peak over {ENDPOINT_QPS} QPS": peak > ENDPOINT_QPS,
                }
            )
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """The forecast as rows ``metric, low, high``."""
        p, plan = self.profile, self.plan
        rows: list[tuple[str, Any, Any]] = [
            ("steps", plan.steps, plan.steps),
            ("rollouts per step", plan.rollouts_per_step, plan.rollouts_per_step),
            ("validation runs", plan.evals, plan.evals),
        ]
        if plan.triage_rollouts:
            rows.append(("triage rollouts", plan.triage_rollouts, plan.triage_rollouts))
        what = "triage + training + validation" if plan.triage_rollouts else "training + validation"
        rows.append((f"rollouts ({what})", plan.rollouts, plan.rollouts))
        if self.figures.get("rollout_s_source", "baseline") != "baseline":
            low, high = self.figures["rollout_s"]
            rows.append(("seconds per rollout", round(low, 2), round(high, 2)))
        if p is not None:
            calls = round(plan.rollouts * p.tool_calls)
            rows.append(("tool calls", calls, calls))
            rows.append(
                ("model-grader tokens", round(self.grader_tokens), round(self.grader_tokens))
            )
        rows.append(
            ("wall time (hours)", round(self.wall_hours[0], 2), round(self.wall_hours[1], 2))
        )
        if self.cost_usd is not None:
            rows.append(("cost (USD)", round(self.cost_usd[0]), round(self.cost_usd[1])))
        return pd.DataFrame(rows, columns=["metric", "low", "high"], dtype=object).set_index(
            "metric"
        )

    def problems(self, budget_usd: float | None = None) -> list[tuple[str, str]]:
        """``(severity, message)`` pairs: ``error`` over budget, ``warning`` otherwise."""
        found: list[tuple[str, str]] = []
        if self.cost_usd is not None and budget_usd is not None and self.cost_usd[1] > budget_usd:
            severity = "error" if self.cost_usd[0] > budget_usd else "warning"
            found.append(
                (
                    severity,
                    f"forecast cost ${self.cost_usd[0]:,.0f}-"
                    f"${self.cost_usd[1]:,.0f} against a budget of ${budget_usd:,.0f}",
                )
            )
        if (
            self.backend == "azure"
            and self.cost_usd is not None
            and self.cost_usd[1] > AZURE_AUTO_PAUSE_USD
        ):
            found.append(
                (
                    "warning",
                    f"Azure auto-pauses a job at ${AZURE_AUTO_PAUSE_USD:,.0f}; "
                    f"this one may cost up to ${self.cost_usd[1]:,.0f}",
                )
            )
        endpoints = self.endpoints()
        for row in endpoints.to_dict("records") if len(endpoints) else []:
            if row[f"peak over {ENDPOINT_QPS} QPS"]:
                found.append(
                    (
                        "warning",
                        f"{row['endpoint']}: up to "
                        f"{row['peak simultaneous requests']} simultaneous requests at "
                        f"each step boundary, over the {ENDPOINT_QPS} QPS endpoints are "
                        "asked to handle; load-test it (rftkit endpoints check)",
                    )
                )
        return found

    def text(self) -> str:
        source = (
            f"{self.profile.rollouts} measured rollouts"
            if self.profile is not None
            else "planned steps (no rollouts measured)"
        )
        parts = [
            f"forecast: {self.task_name} on {self.backend} ({self.model}), from {source}",
            self.table().to_string(),
        ]
        if len(self.tool_urls) and self.profile is not None:
            parts += ["", self.endpoints().to_string(index=False)]
        if self.detail is not None:
            parts += ["", self.detail.to_string()]
        if self.price is not None:
            parts += ["", f"price: {self.price.note} [{self.price.source}, {self.price.checked}]"]
        parts += [f"note: {n}" for n in self.notes]
        return "\n".join(parts)


def forecast(
    task: RFTTask,
    profile: RolloutProfile,
    backend: str,
    *,
    assumptions: Assumptions = Assumptions(),
    prices: tuple[Price, ...] = PRICES,
    grader_usd_per_million_tokens: float | None = None,
    rollout_s: tuple[float, float] | None = None,
) -> Forecast:
    """The forecast for ``task`` on ``backend`` (``local``, ``openai``, ``azure``).

    ``rollout_s``: seconds per rollout (p50, p95) measured on this backend, e.g. a previous
    job's triage time ÷ its rollouts; it replaces the baseline's latency (see the module doc)."""
    shape = plan(task, backend, assumptions)
    rollout, source, note = _rollout_seconds(profile, backend, assumptions, rollout_s)
    overhead = (0.0, 0.0) if backend == "local" else assumptions.step_overhead_s
    grader_s = profile.grader_latency_s
    per_step = tuple(r + grader_s + o for r, o in zip(rollout, overhead, strict=True))
    triage = tuple(shape.triage_rollouts * (r + grader_s) for r in rollout)
    hours = tuple(
        (t + shape.steps * s + shape.evals * e) / 3600
        for t, s, e in zip(triage, per_step, rollout, strict=True)
    )
    grader_tokens = shape.rollouts * profile.grader_tokens
    notes = [*shape.notes, *([note] if note else [])]
    if shape.triage_rollouts:
        notes.append(
            f"triage: at most {shape.triage_rollouts} rollouts before the first step, counted one"
            " after another"
        )
    price = None if backend == "local" else price_for(backend, task.model, prices)
    cost = None
    if backend == "local":
        cost = (0.0, 0.0)
    elif price is None or price.usd_per_training_hour is None:
        notes.append(
            f"no training price for {task.model} on {backend} in the price table; cost not forecast"
        )
    else:
        extra = 0.0
        if grader_tokens and grader_usd_per_million_tokens is not None:
            extra = grader_tokens / 1e6 * grader_usd_per_million_tokens
        elif grader_tokens:
            notes.append(
                "model-grader tokens are billed on top and not priced here "
                "(pass grader_usd_per_million_tokens)"
            )
        cost = tuple(h * price.usd_per_training_hour + extra for h in hours)
    if backend == "local":
        notes.append(
            "local wall time counts the baseline's rollout latency per step; GRPO "
            "updates on the CPU add to it"
        )
    urls = {t.name: t.server_url for t in task.tools}
    return Forecast(
        task.name,
        backend,
        task.model,
        shape,
        profile,
        hours,
        cost,
        price,
        urls,
        grader_tokens,
        tuple(notes),
        figures={"rollout_s": rollout, "rollout_s_source": source},
        # rollout_s_source: "given" (rollout_s=), "baseline" (measured), "floor" (assumed)
    )


def _rollout_seconds(
    profile: RolloutProfile,
    backend: str,
    assumptions: Assumptions,
    measured: tuple[float, float] | None,
) -> tuple[tuple[float, float], str, str]:
    """Seconds per rollout (p50, p95), their source (``given``, ``baseline``, ``floor``) and a
    note for the forecast saying so (none for the baseline's own latency, the usual case)."""
    if measured is not None:
        low, high = measured
        if not 0 < low <= high:
            raise ValueError(f"rollout_s must be 0 < p50 <= p95 seconds, got {measured!r}")
        return (low, high), "given", f"seconds per rollout: {low:g}-{high:g}, measured (given)"
    baseline = (profile.latency_p50_s, profile.latency_p95_s)
    if not profile.scripted:
        return baseline, "baseline", ""
    floor = assumptions.scripted_floor_s["local" if backend == "local" else "hosted"]
    used = (max(baseline[0], floor[0]), max(baseline[1], floor[1]))
    return used, "floor", (
        f"seconds per rollout: {used[0]:g}-{used[1]:g}, an assumed floor: the baseline is "
        f"scripted (no model tokens), so its {baseline[0]:.2f} s per rollout times the tools, "
        "not a model; pass rollout_s= measured on this backend (a job's triage seconds ÷ its "
        "rollouts) to replace it"
    )


PAUSED_WORDS = ("paused", "pausing")
RESUMED_WORDS = ("resumed", "started", "running")


def billed_seconds(job: Any) -> tuple[float | None, str]:
    """The seconds a job was billed for, and how they were counted.

    OpenAI's billing guide for the RFT API bills wall-clock time in the core training loop
    (sampling, grading, training, validation), not queueing, file validation, safety checks or
    pauses. Counted, in order of preference:

    1. the sum of every metrics event's ``timing.step.full_iteration`` (each step's own time);
    2. otherwise the time from the first step's start (the event saying the job started
       running, else the first metrics event) to the last metrics event, less every interval
       between a pause event and the next resume event.
    """
    events = [e for e in job.events() if isinstance(e, dict)]
    metrics = [e for e in events if e.get("type") == "metrics" and e.get("data")]
    steps = [((e["data"].get("timing") or {}).get("step") or {}) for e in metrics]
    if metrics and all(isinstance(s.get("full_iteration"), int | float) for s in steps):
        total = sum(float(s["full_iteration"]) for s in steps)
        return total, (
            f"the {len(steps)} steps' timing.step.full_iteration summed; queueing, file "
            "validation, safety checks and pauses fall outside every step"
        )
    timed = [e for e in events if isinstance(e.get("created_at"), int | float)]
    timed_metrics = [e for e in timed if e in metrics]
    if not timed_metrics:
        return None, "not counted: the job has no timed metrics events yet"
    timed.sort(key=lambda e: e["created_at"])
    started = next(
        (e for e in timed if any(w in str(e.get("message", "")).lower() for w in RESUMED_WORDS)),
        timed_metrics[0],
    )
    end = timed_metrics[-1]["created_at"]
    paused_s, paused_at = 0.0, None
    for event in timed:
        message = str(event.get("message", "")).lower()
        if paused_at is None and any(w in message for w in PAUSED_WORDS):
            paused_at = event["created_at"]
        elif paused_at is not None and any(w in message for w in RESUMED_WORDS):
            paused_s += max(0.0, min(event["created_at"], end) - paused_at)
            paused_at = None
    total = max(0.0, end - started["created_at"] - paused_s)
    return total, (
        "from the job's start of training to its last metrics event, less "
        f"{paused_s / 3600:.2f} h paused (events carry no per-step timing); queueing and the "
        "checks after the last step are left out"
    )


def compare(fc: Forecast, job: Any, now: float | None = None) -> pd.DataFrame:
    """The forecast next to what ``job`` did (any backend's job): steps, wall time, billed time
    and cost. The cost counts billed time only (:func:`billed_seconds`); how it was counted is
    in ``frame.attrs["billed_time"]``."""
    record = job.as_job()
    metrics = [e for e in job.events() if e.get("type") == "metrics" and e.get("data")]
    steps = max((int(e["data"].get("step", 0)) for e in metrics), default=0)
    end = record.get("finished_at") or (now if now is not None else time.time())
    wall = (end - record["created_at"]) / 3600
    billed_s, how = billed_seconds(job)
    billed = None if billed_s is None else billed_s / 3600
    low, high = round(fc.wall_hours[0], 2), round(fc.wall_hours[1], 2)
    rows = [
        ("steps", fc.plan.steps, fc.plan.steps, steps),
        ("billed training time (hours)", low, high, None if billed is None else round(billed, 2)),
        ("wall time, queueing and pauses included (hours)", None, None, round(wall, 2)),
    ]
    if fc.cost_usd is not None:
        rate = (fc.price.usd_per_training_hour if fc.price else 0.0) or 0.0
        rows.append(
            (
                "cost at the table's rate (USD)",
                round(fc.cost_usd[0]),
                round(fc.cost_usd[1]),
                None if billed is None else round(billed * rate),
            )
        )
    frame = pd.DataFrame(rows, columns=["metric", "forecast low", "forecast high", "actual"])
    frame = frame.set_index("metric")
    frame.attrs["billed_time"] = how
    return frame
