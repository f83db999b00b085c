"""Self-checks for the course's exercises: "not yet: <hint>" or "correct", never an exception.

A learner's exercise cell ships as a stub (``...``, ``None`` or a function that raises
``NotImplementedError``). Its check prints "not yet" with a hint until the answer is right, so the
notebook still runs top to bottom (and under nbval) before anyone has solved it. Every check
returns a bool: the solved copies in ``notebooks/solutions/`` assert it is True, and
``tests/test_exercises.py`` proves each one says "not yet" to wrong answers.

Learners' code may raise anything; a check reports it as "not yet" and the notebook goes on.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from rftkit.course.reference_labels import ROLLOUT_LABELS, ROLLOUTS, load_reference_set
from rftkit.data import validate_records
from rftkit.errors import RFTKitError
from rftkit.evaluation.baseline import Baseline, bucket_of
from rftkit.evaluation.redteam import Case, run_redteam
from rftkit.graders import GraderValidationError, validate_grader
from rftkit.graders.sources import answer_closeness
from rftkit.protocol import Trace

STUB_HINT = "the exercise still holds its stub; write your answer in the cell above and run it"


class NotYet(RFTKitError):
    """A wrong or missing answer; the message is the hint the learner sees."""


def exercise_check(check: Callable[..., str | None]) -> Callable[..., bool]:
    """Turn a check that raises ``NotYet`` into one that prints its verdict and returns a bool.

    The wrapped check may return a short note that is printed after "correct".
    """

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> bool:
        try:
            note = check(*args, **kwargs)
        except NotYet as not_yet:
            print(f"not yet: {not_yet}")
            return False
        except NotImplementedError:
            print(f"not yet: {STUB_HINT}")
            return False
        except Exception as error:  # the learner's code, whatever it raised
            print(f"not yet: your answer raised {type(error).__name__}: {error}"[:500])
            return False
        print(f"correct: {note}" if note else "correct")
        return True

    return run


def _require_answer(answer: Any) -> None:
    if answer is None or answer is Ellipsis:
        raise NotYet(STUB_HINT)


@exercise_check
def check_restated_tasks(answer: Any, tasks: pd.DataFrame) -> str:
    """00: how many of the world's tasks need a figure that a later report restates."""
    _require_answer(answer)
    if not isinstance(answer, numbers.Real) or isinstance(answer, bool):
        raise NotYet(f"answer with a number of tasks, not {type(answer).__name__}")
    expected = int(tasks["uses_restatement"].sum())
    if answer != expected:
        raise NotYet(
            f"{answer} is not it: count the tasks (rows of `tasks`) whose `uses_restatement` is "
            "True; the world's restatements are figures, and a figure can be asked about by "
            "several tasks, or none"
        )
    return f"{expected} of {len(tasks)} tasks need the later report"


@exercise_check
def check_repair(
    repair: Callable[[dict[str, Any]], dict[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    *,
    grader: Mapping[str, Any],
    tool_names: Sequence[str],
) -> str:
    """01: ``repair(line)`` fixes every line, drops none, keeps each task and its question."""
    _require_answer(repair)
    originals = copy.deepcopy(list(lines))
    repaired = [repair(copy.deepcopy(line)) for line in lines]
    if any(not isinstance(line, dict) for line in repaired):
        raise NotYet("repair(line) must return the fixed line (a dict), also for good lines")
    if [line.get("task_id") for line in repaired] != [line["task_id"] for line in originals]:
        raise NotYet("lines were lost, added or changed task: return one fixed copy of each line")
    for number, (before, after) in enumerate(zip(originals, repaired, strict=True), start=1):
        asked = [m["content"] for m in before["messages"] if m["role"] == "user"]
        if [m.get("content") for m in after["messages"] if m.get("role") == "user"] != asked:
            raise NotYet(f"line {number}: the user's question changed; repair the line around it")
    report = validate_records(repaired, grader=grader, tool_names=tool_names)
    if not report.ok:
        first = report.errors[0]
        raise NotYet(
            f"{len(report.errors)} error(s) left, first on line {first.line}: {first.field} "
            f"{first.code} ({first.message}); hint: {first.hint}"
        )
    return report.summary()


PERCENT_CHANGE_CASES = [((4043.9, 4134.9), "2.3"), ((100, 150), "50.0"), ((200, 150), "-25.0")]


@exercise_check
def check_percent_change(percent_change: Callable[[float, float], Any]) -> str:
    """02: the percentage change from ``old`` to ``new``, one decimal, as a string."""
    _require_answer(percent_change)
    for (old, new), expected in PERCENT_CHANGE_CASES:
        got = percent_change(old, new)
        if not isinstance(got, str):
            raise NotYet(
                f"percent_change({old}, {new}) returned {type(got).__name__} {got!r}: a tool "
                "answers the model with text, so return str(...)"
            )
        if got != expected:
            raise NotYet(
                f"percent_change({old}, {new}) returned {got!r}, expected {expected!r}: "
                "(new - old) * 100 / old, rounded to one decimal"
            )
    return f"{len(PERCENT_CHANGE_CASES)} cases right; now the readiness check serves it"


@exercise_check
def check_string_grader(config: Any, cases: Sequence[Case]) -> str:
    """03: a ``string_check`` that pays the honest answer and nothing for hedges, lists, dumps."""
    _require_answer(config)
    if not isinstance(config, Mapping) or config.get("type") != "string_check":
        raise NotYet(
            'the exercise asks for a string_check config (a dict with "type": "string_check"), '
            "no python: start from naive_grader() and change what it checks"
        )
    try:
        validate_grader(config)
    except GraderValidationError as error:
        raise NotYet(f"the config is not valid: {error}") from None
    report = run_redteam(config, cases)
    left = [problem for problem in report.problems() if not problem.startswith("lucky guess")]
    if left:
        raise NotYet(
            "still paid or still wrong: " + "; ".join(left) + ". Hint: which `operation` of a "
            "string_check pays only an answer that is the reference and nothing else?"
        )
    return "every probe earns nothing but the lucky guess: which one is that, and why?"


BUCKET_CASES = [
    ([0.0, 0.0, 0.0, 0.0], "always_0"),
    ([1.0, 1.0, 1.0], "always_1"),
    ([0.86, 0.86, 0.86, 0.86], "constant"),
    ([0.0, 1.0, 0.0, 0.0], "learnable"),
    ([0.4, 0.6], "learnable"),
    ([0.0, 0.0, 0.0, 0.2], "learnable"),
    ([0.7], "unscored"),
]


@exercise_check
def check_bucket(bucket: Callable[[list[float]], str], baseline: Baseline) -> str:
    """04: ``bucket(rewards)`` gives the triage verdict for one item's scored rewards."""
    _require_answer(bucket)
    cases = [(rewards, expected, "a made-up item") for rewards, expected in BUCKET_CASES]
    cases += [
        (rewards, bucket_of(rewards), item_id)
        for item_id, rewards in baseline.rewards_by_item().items()
    ]
    for rewards, expected, where in cases:
        got = bucket(list(rewards))
        if got != expected:
            raise NotYet(
                f"bucket({[round(r, 3) for r in rewards]}) ({where}) gave {got!r}, expected "
                f"{expected!r}; an item teaches something only if its rewards differ"
            )
    return f"{len(cases)} items bucketed as the triage does"


def _lucky_share(traces: Sequence[Trace]) -> float:
    """Share of scored rollouts right without a tool call, read from the traces themselves."""
    scored = [t for t in traces if t.reward is not None]
    lucky = [
        t
        for t in scored
        if not t.function_spans
        and (t.grader_result or {}).get("sub_rewards", {}).get("correct", t.reward) >= 1
    ]
    return len(lucky) / len(scored) if scored else math.nan


NO_TOOL_CASE = pd.DataFrame(
    {
        "reward": [1.0, 0.4, 0.0, None, 1.0],
        "correct": [True, True, False, None, True],
        "tool_calls": [2, 0, 0, 0, 0],
    }
)
"""Five rollouts: two right without a tool among the four scored, one discarded (no reward)."""


@exercise_check
def check_no_tool_correct(
    no_tool_correct: Callable[[pd.DataFrame], float],
    runs: Mapping[str, tuple[pd.DataFrame, Sequence[Trace]]],
) -> str:
    """06: share of *scored* rollouts that answered correctly without any tool call."""
    _require_answer(no_tool_correct)
    got = no_tool_correct(NO_TOOL_CASE.copy())
    if not isinstance(got, numbers.Real) or not math.isclose(got, 0.5):
        raise NotYet(
            f"on a made-up run (2 of 4 scored rollouts right without tools, 1 discarded) you "
            f"got {got!r}, expected 0.5: count only rows with a reward"
        )
    shares = {}
    for name, (frame, traces) in runs.items():
        got, expected = no_tool_correct(frame), _lucky_share(traces)
        if not math.isclose(got, expected, abs_tol=1e-9):
            raise NotYet(f"{name}: {got!r}, but the traces say {expected:.3f}")
        shares[name] = round(expected, 3)
    return ", ".join(f"{name} {share}" for name, share in shares.items())


def _support_cases() -> list[tuple[str, list[tuple[str, dict[str, Any]]], dict[str, Any], bool]]:
    """(where, calls, item, supported?) for made-up rollouts and every labelled real rollout
    whose answer is right (the label then says supported (1) or not (0.5))."""
    rollouts = load_reference_set(ROLLOUTS, ROLLOUT_LABELS)
    right = [
        row
        for row in rollouts.itertuples()
        if answer_closeness.grade(row.sample, row.item) == 1.0 and row.label > 0
    ]
    comparison = next(row.item for row in right if row.item["task_type"] == "comparison")
    reads = [("read_file", {"path": path}) for path in comparison["evidence"]]
    cases = [
        ("a made-up comparison answered with no call", [], comparison, False),
        ("a made-up comparison answered after reading one report", reads[:1], comparison, False),
        ("a made-up comparison answered after reading both reports", reads, comparison, True),
    ]
    for row in right:
        calls = [
            (call["function"]["name"], json.loads(call["function"]["arguments"] or "{}"))
            for call in row.sample["output_tools"]
        ]
        cases.append((f"rollout {row.id} ({row.answer!r})", calls, row.item, row.label == 1.0))
    return cases


def _support_hint(calls: list[tuple[str, dict[str, Any]]], item: dict[str, Any], said: bool) -> str:
    sums = [arguments.get("expression") for tool, arguments in calls if tool == "calculator"]
    if not said:
        return (
            "it looked at every report in item['evidence'] (read_file, or a search naming the "
            "company and quarter); a sum that does not hold the winning figure "
            f"(item['reference_value'] = {item.get('reference_value')}) shows nothing either way"
        )
    if sums and item.get("task_type") == "comparison":
        return (
            f"its last sum was {sums[-1]!r}: which figure in it is the winner's "
            f"(item['reference_value'] = {item['reference_value']}), and which company does the "
            "sum say is higher?"
        )
    return (
        "which report in item['evidence'] did it never open, or search for by company and "
        "quarter?"
    )


@exercise_check
def check_supported(supported: Callable[[list[tuple[str, dict[str, Any]]], dict], Any]) -> str:
    """03: ``supported(calls, item)`` says, as the labels do, whether a right answer rests on
    what the rollout looked at."""
    _require_answer(supported)
    if not callable(supported):
        raise NotYet("write a function: def supported(calls, item) -> bool")
    cases = _support_cases()
    for where, calls, item, expected in cases:
        got = supported(copy.deepcopy(calls), copy.deepcopy(item))
        if not isinstance(got, bool):
            raise NotYet(f"{where}: supported(...) returned {got!r}; return True or False")
        if got != expected:
            label = "supported (1)" if expected else "right but unsupported (0.5)"
            raise NotYet(
                f"{where}: you said {got}, the label says {label}. Hint: "
                + _support_hint(calls, item, got)
            )
    return f"{len(cases)} right answers judged as the labels judge them"


@exercise_check
def check_teaches_answer(keep: Callable[[pd.DataFrame], Any], baseline: Baseline) -> str:
    """04: ``keep(rows)`` is True for an item whose rollouts disagree on the *answer*: the items
    where RL can teach the answer, not only economy (``Baseline.answer_spread``)."""
    _require_answer(keep)
    if not callable(keep):
        raise NotYet("write a function: def keep(rows) -> bool, rows being one item's rollouts")
    spread = baseline.answer_spread().set_index("item_id")
    expected = (spread["bucket"] == "learnable") & ~spread["only_process"]
    kept = 0
    for item_id, rows in baseline.rollouts.groupby("item_id", sort=False):
        got = keep(rows.copy())
        if not isinstance(got, bool):
            raise NotYet(f"keep(...) returned {got!r} for {item_id}; return True or False")
        scored = rows.dropna(subset=["reward"])
        rewards = [round(r, 3) for r in scored["reward"]]
        shown = f"rewards {rewards}, right {scored['correct'].tolist()}"
        if got and not expected[item_id]:
            raise NotYet(
                f"{item_id} ({shown}): you kept it, but its answers never differ. Hint: what "
                "made its rewards differ, if not the answer?"
            )
        if expected[item_id] and not got:
            raise NotYet(
                f"{item_id} ({shown}): you dropped it, but some rollouts answered right and some "
                "wrong: the one place RL can teach the answer. Hint: read the `correct` column"
            )
        kept += got
    learnable = int((spread["bucket"] == "learnable").sum())
    return f"{kept} of {len(spread)} items teach the answer; the triage calls {learnable} learnable"
