"""Run an OpenAI grader config on one sample, locally, with the service's semantics.

``run_grader`` takes the same grader dict a job submits, a sample (a :class:`Sample`, its dict,
or a plain string built the way ``graders.run`` builds ``model_sample``) and the dataset line, and
returns a :class:`GraderRunResult` shaped like the ``graders.run`` response. A bad sample or a
grader that fails at run time never raises: the reward is 0 and the matching error flag is set,
with the reason in ``metadata.error_details``. A malformed config (unknown type, missing field)
raises :class:`GraderValidationError`, as the service answers 400.

Model output is untrusted: a sample or item nested deeper than :data:`MAX_NESTING` is a
``sample_parse_error`` (or ``other_error`` for the item), a JSON text nested that deep is not
``output_json`` (:meth:`Sample.decode_json`), and a formula cannot be deep enough to exhaust the
stack (:mod:`rftkit.graders.formula`). So a policy that answers ``"[" * 5000`` earns 0, not a crash.

Rewards are not clamped to [0, 1]: the guide says graders return 0–1 and ``score_model`` is
clipped to its ``range`` (which may be ``[0, 5]``), but it documents no clamp for ``python``
results or ``multi`` formulas. Whenever the reward or a sub-reward leaves [0, 1] the result says
so in ``metadata.notes``, so a grader that pays 3 does not go unnoticed.

One coroutine core serves both entry points. ``run_grader_async`` is for the rollout engine
(python graders run in a subprocess, endpoint and model graders over HTTP, and the sub-graders of
a ``multi`` run concurrently); ``run_grader`` drives graders that do no I/O
(``string_check``, ``text_similarity``) without an event loop, so they cost microseconds.

Example::

    >>> grader = {"type": "string_check", "name": "exact", "operation": "eq",
    ...           "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
    >>> run_grader(grader, "42", {"answer": "42"}).reward
    1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import ValidationError

from rftkit._util.background import BackgroundLoop
from rftkit.graders.formula import Formula, FormulaError, FormulaEvaluationError
from rftkit.graders.offload import OffLoop
from rftkit.graders.result import GraderErrors, GraderFailure, GraderMetadata, GraderRunResult
from rftkit.graders.sandbox import SandboxLimits, default_sandbox
from rftkit.graders.similarity import MetricUnavailable, similarity
from rftkit.graders.templating import TemplateError, render, variables
from rftkit.graders.validate import GraderValidationError, check_structure, unclosed_template
from rftkit.protocol import Sample

ModelClient = openai.OpenAI | openai.AsyncOpenAI
"""Any OpenAI-compatible endpoint: ``openai.OpenAI(base_url=..., api_key=...)``."""

LOCAL_TYPES = frozenset({"string_check", "text_similarity"})
"""Grader types that need no process, network or model: scored inline."""

MAX_NESTING = Sample.MAX_JSON_DEPTH
"""Deepest nesting of lists/objects accepted in a sample or item (templates, pickling, JSON)."""


@dataclass
class _Run:
    """What one grading needs beyond the grader and the context, and what it accumulates."""

    trace_id: str
    model_client: Any
    limits: SandboxLimits | None
    errors: GraderErrors = field(default_factory=GraderErrors)
    details: list[str] = field(default_factory=list)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    sampled_model_name: str | None = None
    sub_rewards: dict[str, float] = field(default_factory=dict)
    precomputed: dict[int, float | GraderFailure] = field(default_factory=dict)
    """Python grader outcomes already computed in a batch, by ``id()`` of the grader dict."""
    off_loop: OffLoop | None = None
    """Where a server's grading puts its blocking work (``rftkit.graders.offload``)."""

    def fail(self, failure: GraderFailure, where: str) -> None:
        self.errors.merge(failure.as_errors())
        self.details.append(f"{where}: {failure}")


def nesting(value: Any) -> int:
    """How deep lists and dicts nest in ``value``, walked without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def coerce_sample(sample: Sample | str | Mapping[str, Any]) -> Sample:
    """A :class:`Sample` from any accepted form; GraderFailure(sample_parse_error) otherwise."""
    if isinstance(sample, Sample):
        if nesting(sample.output_json) > MAX_NESTING:
            raise GraderFailure(
                "sample_parse_error", f"sample.output_json nests deeper than {MAX_NESTING}"
            )
        return sample
    if isinstance(sample, str):
        return Sample.from_text(sample)
    if isinstance(sample, Mapping):
        if nesting(sample) > MAX_NESTING:
            raise GraderFailure("sample_parse_error", f"the sample nests deeper than {MAX_NESTING}")
        try:
            return Sample.model_validate(dict(sample))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "sample"
            raise GraderFailure("sample_parse_error", f"sample.{where}: {first['msg']}") from None
    raise GraderFailure(
        "sample_parse_error", f"a sample must be a Sample, str or dict, not {type(sample).__name__}"
    )


def _render(text: str, context: Mapping[str, Any]) -> str:
    position = unclosed_template(text)
    if position is not None:  # validate_grader refuses these; never grade the literal text
        raise GraderFailure(
            "invalid_variable_error", f"unclosed template at character {position} of {text!r:.80}"
        )
    if (context.get("sample") or {}).get("output_json") is None:
        for variable in variables(text):
            if variable.startswith("sample.output_json"):
                raise GraderFailure(
                    "sample_parse_error", f"{{{{{variable}}}}}: the sample's output is not JSON"
                )
    try:
        return render(text, context)
    except TemplateError as exc:
        raise GraderFailure("invalid_variable_error", str(exc)) from None
    except (TypeError, ValueError) as exc:  # a value JSON cannot write: bytes, a set, a cycle
        raise GraderFailure("invalid_variable_error", f"{text!r:.80}: {exc}") from None


def string_check(operation: str, text: str, reference: str) -> float:
    """``eq``/``ne`` compare exactly; ``like`` is "input contains reference", ``ilike`` ignoring
    case (docs/hosted-api.md §5.2)."""
    if operation == "eq":
        return float(text == reference)
    if operation == "ne":
        return float(text != reference)
    if operation == "like":
        return float(reference in text)
    if operation == "ilike":
        return float(reference.lower() in text.lower())
    raise ValueError(f"unknown operation {operation!r}")


async def _score(grader: Mapping[str, Any], context: Mapping[str, Any], run: _Run) -> float:
    """The grader's score; raises GraderFailure for any run-time failure."""
    kind = grader["type"]
    if kind == "string_check":
        return string_check(
            grader["operation"],
            _render(grader["input"], context),
            _render(grader["reference"], context),
        )
    if kind == "text_similarity":
        text, reference = _render(grader["input"], context), _render(grader["reference"], context)
        if run.off_loop is not None:
            return await run.off_loop.similarity(grader["evaluation_metric"], text, reference)
        try:
            return similarity(grader["evaluation_metric"], text, reference)
        except MetricUnavailable as exc:
            raise GraderFailure("other_error", str(exc)) from None
    if kind == "python":
        if id(grader) in run.precomputed:
            outcome = run.precomputed[id(grader)]
            if isinstance(outcome, GraderFailure):
                raise outcome
            return outcome
        sandbox = default_sandbox()
        in_thread = run.off_loop.call if run.off_loop is not None else asyncio.to_thread
        return await in_thread(
            sandbox.run, grader["source"], context["sample"], context["item"], run.limits
        )
    if kind == "multi":
        return await _multi(grader, context, run)
    if kind in ("score_model", "label_model"):
        from rftkit.graders.model_graders import score_with_model

        return await score_with_model(grader, context, run)
    if kind == "endpoint":
        from rftkit.graders.endpoint import score_with_endpoint

        return await score_with_endpoint(grader, context, run)
    raise GraderValidationError(f"unknown grader type {kind!r}", "type")


class _SubGraderFailed(Exception):
    """A ``multi`` whose sub-grader failed: flags are already recorded; the reward is 0."""


async def _outcome(
    grader: Mapping[str, Any], context: Mapping[str, Any], run: _Run
) -> float | GraderFailure:
    try:
        return await _score(grader, context, run)
    except GraderFailure as failure:
        return failure


async def _multi(grader: Mapping[str, Any], context: Mapping[str, Any], run: _Run) -> float:
    try:
        formula = Formula.parse(grader["calculate_output"])
    except FormulaError as exc:
        raise GraderFailure("formula_parse_error", str(exc)) from None
    graders: Mapping[str, Mapping[str, Any]] = grader["graders"]
    missing = formula.variables - set(graders)
    if missing:
        raise GraderFailure(
            "invalid_variable_error",
            f"calculate_output uses {sorted(missing)}, which are not keys of graders "
            f"({sorted(graders)})",
        )
    keys = list(graders)
    if _is_local(grader) and run.off_loop is None:  # no I/O: score inline, no loop needed
        outcomes = [await _outcome(graders[key], context, run) for key in keys]
    else:
        outcomes = await asyncio.gather(*(_outcome(graders[key], context, run) for key in keys))
    scores: dict[str, float] = {}
    failed = False
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, GraderFailure):
            run.fail(outcome, f"graders.{key}")
            scores[key] = 0.0
            failed = True
        else:
            scores[key] = outcome
    run.sub_rewards = scores
    if failed:
        raise _SubGraderFailed
    try:
        return formula.evaluate(scores)
    except FormulaEvaluationError as exc:
        raise GraderFailure("formula_parse_error", str(exc)) from None


def _context(
    sample: Sample | str | Mapping[str, Any], item: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The template namespaces; GraderFailure for a bad sample or item."""
    if item is not None and not isinstance(item, Mapping):
        raise GraderFailure("other_error", f"item must be an object, not {type(item).__name__}")
    if nesting(item) > MAX_NESTING:
        raise GraderFailure("other_error", f"the item nests deeper than {MAX_NESTING}")
    return {"item": dict(item or {}), "sample": coerce_sample(sample).model_dump(mode="json")}


async def _grade(
    grader: Mapping[str, Any],
    sample: Sample | str | Mapping[str, Any],
    item: Mapping[str, Any] | None,
    run: _Run,
) -> GraderRunResult:
    started = time.perf_counter()
    reward = 0.0
    try:
        reward = await _score(grader, _context(sample, item), run)
    except GraderFailure as failure:
        run.fail(failure, str(grader.get("name", grader["type"])))
        reward = 0.0
    except _SubGraderFailed:
        reward = 0.0
    return GraderRunResult(
        reward=reward,
        sub_rewards=dict(run.sub_rewards),
        metadata=GraderMetadata(
            name=str(grader.get("name") or grader["type"]),
            type=grader["type"],
            execution_time=time.perf_counter() - started,
            scores=dict(run.sub_rewards),
            token_usage=sum(u.get("total_tokens", 0) for u in run.usage.values()) or None,
            sampled_model_name=run.sampled_model_name,
            errors=run.errors,
            error_details=run.details,
            notes=_range_notes(reward, run.sub_rewards),
        ),
        model_grader_token_usage_per_model={k: dict(v) for k, v in run.usage.items()},
    )


def _range_notes(reward: float, sub_rewards: Mapping[str, float]) -> list[str]:
    """Say where a reward left [0, 1] (the range the graders guide promises), never clamp it."""
    scores = {"reward": reward, **{f"sub_rewards.{k}": v for k, v in sub_rewards.items()}}
    return [
        f"{where} = {value:g} is outside [0, 1]"
        for where, value in scores.items()
        if not 0.0 <= value <= 1.0
    ]


def _is_local(grader: Mapping[str, Any]) -> bool:
    if grader["type"] == "multi":
        return all(_is_local(sub) for sub in grader["graders"].values())
    return grader["type"] in LOCAL_TYPES


def _drive(coroutine: Coroutine[Any, Any, GraderRunResult]) -> GraderRunResult:
    """Finish a coroutine that never suspends (local graders) without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a local grader suspended; this is a bug in rftkit.graders")


_loop = BackgroundLoop("rftkit-graders")  # its own, so graders may run inside rollouts' loop


def _run_blocking(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run to completion from sync code on the background loop."""
    return _loop.run(coroutine)


def _new_run(
    trace_id: str | None, model_client: ModelClient | None, limits: SandboxLimits | None
) -> _Run:
    return _Run(
        trace_id=trace_id or f"trace_{uuid.uuid4().hex}", model_client=model_client, limits=limits
    )


def run_grader(
    grader: Mapping[str, Any],
    sample: Sample | str | Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    *,
    trace_id: str | None = None,
    model_client: ModelClient | None = None,
    limits: SandboxLimits | None = None,
) -> GraderRunResult:
    """Grade ``sample`` against ``item`` with ``grader`` (an OpenAI grader config dict).

    ``trace_id`` is forwarded to endpoint graders (a fresh ``trace_<hex>`` when absent);
    ``model_client`` is the ``openai.OpenAI`` client for model graders (default: one built
    from ``OPENAI_API_KEY`` if set); ``limits`` bound python graders.
    """
    check_structure(grader)
    coroutine = _grade(grader, sample, item, _new_run(trace_id, model_client, limits))
    return _drive(coroutine) if _is_local(grader) else _run_blocking(coroutine)


async def run_grader_async(
    grader: Mapping[str, Any],
    sample: Sample | str | Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    *,
    trace_id: str | None = None,
    model_client: ModelClient | None = None,
    limits: SandboxLimits | None = None,
    off_loop: OffLoop | None = None,
) -> GraderRunResult:
    """:func:`run_grader` for event loops: python graders in a thread, HTTP awaited.

    ``off_loop`` is for a loop that serves others (a server): similarity scoring then runs in a
    killable child and python graders wait in its bounded pool (``rftkit.graders.offload``).
    """
    check_structure(grader)
    run = _new_run(trace_id, model_client, limits)
    run.off_loop = off_loop
    return await _grade(grader, sample, item, run)


def _python_graders(grader: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if grader["type"] == "python":
        return [grader]
    if grader["type"] == "multi":
        return [sub for sub in grader["graders"].values() if sub["type"] == "python"]
    return []


async def run_grader_many_async(
    grader: Mapping[str, Any],
    cases: Sequence[tuple[Sample | str | Mapping[str, Any], Mapping[str, Any] | None]],
    *,
    model_client: ModelClient | None = None,
    limits: SandboxLimits | None = None,
    concurrency: int = 16,
) -> list[GraderRunResult]:
    """Grade many ``(sample, item)`` pairs with one grader; results in the same order.

    Each python grader in the config runs once for all cases in one sandboxed child (its source
    loads once; each case keeps its own time limit and failure), which is what makes red-team
    sweeps and evaluation sets cheap. Endpoint and model graders run ``concurrency`` at a time.
    Each case's trace id is fresh.
    """
    check_structure(grader)
    runs = [_new_run(None, model_client, limits) for _ in cases]
    contexts: dict[int, dict[str, Any]] = {}
    for index, (sample, item) in enumerate(cases):
        with contextlib.suppress(GraderFailure):  # reported again, with its flag, by _grade
            contexts[index] = _context(sample, item)
    sandbox = default_sandbox()
    for python in _python_graders(grader):
        indices = list(contexts)
        inputs = [(contexts[i]["sample"], contexts[i]["item"]) for i in indices]
        outcomes = await asyncio.to_thread(sandbox.run_many, python["source"], inputs, limits)
        for index, outcome in zip(indices, outcomes, strict=True):
            runs[index].precomputed[id(python)] = outcome
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> GraderRunResult:
        async with slots:
            sample, item = cases[index]
            return await _grade(grader, sample, item, runs[index])

    return list(await asyncio.gather(*(one(i) for i in range(len(cases)))))


def run_grader_many(
    grader: Mapping[str, Any],
    cases: Sequence[tuple[Sample | str | Mapping[str, Any], Mapping[str, Any] | None]],
    *,
    model_client: ModelClient | None = None,
    limits: SandboxLimits | None = None,
    concurrency: int = 16,
) -> list[GraderRunResult]:
    """:func:`run_grader_many_async` from sync code (a notebook, a script)."""
    check_structure(grader)
    return _run_blocking(
        run_grader_many_async(
            grader, cases, model_client=model_client, limits=limits, concurrency=concurrency
        )
    )
