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
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from rftkit.analysis.paired import PairedChange
from rftkit.course.reference_labels import ROLLOUT_LABELS, ROLLOUTS, load_reference_set
from rftkit.data import near_duplicates, validate_records
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


LOOKUP = re.compile(
    r"What was the (?P<figure>.+) of (?P<company>.+) in (?P<quarter>\d{4}-Q\d) "
    r"\((?P<unit>[^)]+)\)\?"
)


def _reworded(line: Mapping[str, Any], suspect_id: str, keep_evidence: bool) -> dict[str, Any]:
    """A training lookup asked in other words, under a new id: the same task, hidden."""
    copied = copy.deepcopy(dict(line))
    question = copied["messages"][-1]["content"]
    match = LOOKUP.fullmatch(question)
    if match is None:
        raise ValueError(f"not a lookup question: {question!r}")
    copied["messages"][-1]["content"] = (
        "In {quarter}, what {figure} did {company} report ({unit})?".format(**match.groupdict())
    )
    copied["task_id"] = suspect_id
    if not keep_evidence:
        del copied["evidence"]  # a hand-written line often has none
    return copied


def _leak_exercise(
    train: Sequence[Mapping[str, Any]], valid: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """01's suspects: two training lookups reworded (one without ``evidence``), the three
    validation lines most like a training line (two with other answers, one with the same), one
    more validation line; shuffled, renamed ``s1``…``s6``. Also {suspect id: the training id it
    copies, or "" for an honest line}."""
    valid_ids = {line["task_id"] for line in valid}
    pairs = near_duplicates([*train, *valid], threshold=90)
    cross = pairs[pairs["first_id"].isin(valid_ids) != pairs["second_id"].isin(valid_ids)]
    sides = [
        (r.first_id, r.second_id) if r.first_id in valid_ids else (r.second_id, r.first_id)
        for r in [*cross[~cross["same_answer"]].head(2).itertuples(),
                  *cross[cross["same_answer"]].head(1).itertuples()]
    ]  # fmt: skip
    honest = [v for v, _ in sides]
    honest += [next(line["task_id"] for line in valid if line["task_id"] not in honest)]
    lookups = [line for line in train if LOOKUP.fullmatch(line["messages"][-1]["content"])]
    by_id = {line["task_id"]: line for line in valid}
    order = list(range(6))
    random.Random(0).shuffle(order)
    ids = [f"s{n + 1}" for n in order]
    suspects = [
        _reworded(lookups[0], ids[0], keep_evidence=True),
        _reworded(lookups[1], ids[1], keep_evidence=False),
        *(
            {**copy.deepcopy(dict(by_id[v])), "task_id": i}
            for v, i in zip(honest, ids[2:], strict=True)
        ),
    ]
    truth = {ids[0]: lookups[0]["task_id"], ids[1]: lookups[1]["task_id"]}
    truth |= {i: "" for i in ids[2:]}
    return sorted(suspects, key=lambda s: int(s["task_id"][1:])), truth


def leak_suspects(
    train: Sequence[Mapping[str, Any]], valid: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """01: six validation lines under suspicion, ids ``s1``…``s6``; some repeat a training task."""
    return _leak_exercise(train, valid)[0]


@exercise_check
def check_leaks(
    answer: Any, train: Sequence[Mapping[str, Any]], valid: Sequence[Mapping[str, Any]]
) -> str:
    """01: the ids of the suspects that repeat a training task, and only those."""
    _require_answer(answer)
    if isinstance(answer, str) or not all(isinstance(a, str) for a in answer):
        raise NotYet("answer with a collection of suspect ids, e.g. {'s1', 's4'}")
    suspects, truth = _leak_exercise(train, valid)
    leaks = {s for s, copied in truth.items() if copied}
    chosen = set(answer)
    unknown = chosen - set(truth)
    if unknown:
        raise NotYet(f"{sorted(unknown)} are not suspects; the ids are s1 … s6")
    by_id = {s["task_id"]: s for s in suspects}
    for wrong in sorted(chosen - leaks):
        raise NotYet(
            f"{wrong} is not a leak: it reads much like a training question, but compare what "
            f"it asks (which company, figure and quarter) and its answer "
            f"{by_id[wrong]['reference_answer']!r}; a similar question, even with the same "
            "answer, is a different task"
        )
    if not chosen & leaks:
        raise NotYet(
            "none of the leaks yet: find_leakage(train, suspects) finds what its rules cover; "
            "start there"
        )
    if chosen != leaks:
        raise NotYet(
            "one more: a reworded question scores under find_leakage's default threshold of 90, "
            "and a line without `evidence` cannot be matched by the reports it needs; lower the "
            "threshold and judge each pair it finds: same company, figure and quarter, same answer?"
        )
    pairs = ", ".join(f"{s} = {truth[s]}" for s in sorted(leaks))
    return f"{pairs}; the honest look-alikes stay, since they ask other facts"


def discarded_share(error_rate: float, calls: int = 5, retries: int = 3) -> float:
    """The share of rollouts the trainer discards when each attempt fails with ``error_rate``,
    independently: a call is lost only when all ``1 + retries`` attempts fail, and a rollout
    when any of its ``calls`` is."""
    return 1 - (1 - error_rate ** (1 + retries)) ** calls


def largest_error_rate(discard_budget: float, calls: int = 5, retries: int = 3) -> float:
    """The largest per-attempt error rate at which at most ``discard_budget`` of rollouts are
    discarded (the inverse of :func:`discarded_share`)."""
    return (1 - (1 - discard_budget) ** (1 / calls)) ** (1 / (1 + retries))


@exercise_check
def check_error_rate(answer: Any, discard_budget: float = 0.01, calls: int = 5) -> str:
    """02: the largest share of failing attempts that keeps discarded rollouts within budget."""
    _require_answer(answer)
    if not isinstance(answer, numbers.Real) or isinstance(answer, bool) or not 0 <= answer <= 1:
        raise NotYet(f"answer with a share of attempts between 0 and 1, not {answer!r}")
    expected = largest_error_rate(discard_budget, calls)
    if abs(answer - expected) <= 0.005:
        return (
            f"{expected:.3f}: at that rate {discarded_share(expected, calls):.1%} of {calls}-call "
            "rollouts are discarded; three retries turn a fifth of attempts failing into a "
            "percent of rollouts lost, and nothing turns a tool slower than the timeout into one "
            "that answers"
        )
    lost = discarded_share(answer, calls)
    if answer <= discard_budget * 1.01 or answer <= largest_error_rate(discard_budget, 1, 0):
        raise NotYet(
            f"{answer:g} leaves out the retries: a 503 is retried three times with the same "
            "call_id, so a call is lost only when all four attempts fail"
        )
    if lost < discard_budget:
        raise NotYet(
            f"at {answer:g} only {lost:.2%} of rollouts are discarded: the service could fail "
            "more often than that and stay within the budget; look for the largest rate"
        )
    if discarded_share(answer, 1) <= discard_budget:
        raise NotYet(
            f"{answer:g} keeps one call within the budget, but a rollout makes {calls} calls and "
            f"is discarded when any of them is lost: at {answer:g}, {lost:.1%} of rollouts are"
        )
    raise NotYet(
        f"at {answer:g}, {lost:.1%} of rollouts are discarded, over the {discard_budget:.0%} "
        "budget: a call is lost with probability p**4 (four attempts), a rollout is kept only "
        f"if all {calls} of its calls are"
    )


def items_needed(change: PairedChange, target: float, standard_errors: float = 2.0) -> int:
    """How many items put a change of ``target`` ``standard_errors`` SEs from zero, if each
    item's change spreads as in ``change`` (the SE shrinks with the square root of the items)."""
    spread = change.change_se * math.sqrt(change.items)  # the per-item changes' SD
    return math.ceil((standard_errors * spread / target) ** 2)


@exercise_check
def check_items_needed(answer: Any, change: PairedChange, target: float = 0.05) -> str:
    """00: how many evaluation items a paired change of ``target`` needs to be two SEs."""
    _require_answer(answer)
    if not isinstance(answer, numbers.Real) or isinstance(answer, bool):
        raise NotYet(f"answer with a number of items, not {type(answer).__name__}")
    expected = items_needed(change, target)
    if abs(answer - expected) <= 0.1 * expected:
        return (
            f"about {expected} items, each rolled out as often as here; to see a change half "
            "as big takes four times as many"
        )
    linear = change.items * 2 * change.change_se / target
    if abs(answer - linear) <= 0.1 * linear:
        raise NotYet(
            f"{answer:g} scales the items with the standard error itself; but a standard error "
            "is a spread divided by the square root of the items, so halving it takes four "
            "times the items"
        )
    if answer <= change.items:
        raise NotYet(
            f"{answer:g} items: here {change.items} items give a standard error of "
            f"{change.change_se:.3f}, and two of those are more than {target}; the evaluation "
            "needs more items, not fewer"
        )
    raise NotYet(
        f"{answer:g} is not it: a change of {target} is two standard errors when the SE is "
        f"{target / 2}; the SE is (the per-item changes' spread) / sqrt(items), and that spread "
        f"is {change.change_se:.3f} × sqrt({change.items})"
    )


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


SELECTION_SE = 2.0
"""A checkpoint is chosen only if its validation gain over the base is beyond this many paired
standard errors."""


def chosen_checkpoint(table: pd.DataFrame) -> str:
    """06's rule: the highest validation reward among the checkpoints whose gain over the base is
    beyond ``SELECTION_SE`` paired standard errors; the base when none is."""
    beyond = table[table["gain"] > SELECTION_SE * table["gain SE"]]
    return "base" if beyond.empty else str(beyond["reward"].idxmax())


def _made_up_selection(rewards: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """A selection table: name -> (train reward, validation reward, gain, gain SE)."""
    return pd.DataFrame(
        [
            {"checkpoint": name, "train reward": train, "reward": valid, "reward SE": 0.03,
             "gain": gain, "gain SE": se}
            for name, (train, valid, gain, se) in rewards.items()
        ]
    ).set_index("checkpoint")  # fmt: skip


SELECTION_CASES = {
    "the last step trains best and validates worst": _made_up_selection(
        {"base": (0.0, 0.30, 0.0, 0.0), "step-8": (0.50, 0.40, 0.10, 0.03),
         "step-16": (0.55, 0.50, 0.20, 0.04), "step-24": (0.70, 0.42, 0.12, 0.04)}
    ),
    "no checkpoint beats the base beyond its noise": _made_up_selection(
        {"base": (0.0, 0.40, 0.0, 0.0), "step-8": (0.45, 0.44, 0.04, 0.03),
         "step-16": (0.50, 0.47, 0.07, 0.05)}
    ),
    "the best mean is within noise, a lower one is not": _made_up_selection(
        {"base": (0.0, 0.30, 0.0, 0.0), "step-8": (0.40, 0.39, 0.09, 0.03),
         "step-16": (0.45, 0.42, 0.12, 0.08)}
    ),
}  # fmt: skip


@exercise_check
def check_checkpoint_choice(choose: Callable[[pd.DataFrame], str], table: pd.DataFrame) -> str:
    """06: ``choose(table)`` names the checkpoint to evaluate on held-out items, from a selection
    table (validation reward with its gain over the base and the gain's paired SE)."""
    _require_answer(choose)
    for case, made_up in SELECTION_CASES.items():
        got, want = choose(made_up.copy()), chosen_checkpoint(made_up)
        if got is None:
            raise NotYet(STUB_HINT)
        if got == want:
            continue
        hints = {
            "the last step trains best and validates worst": "train reward is measured on "
            "batches the model just trained on; choose on validation",
            "no checkpoint beats the base beyond its noise": "a gain smaller than two of its "
            "standard errors is not evidence of one: then keep the base",
            "the best mean is within noise, a lower one is not": "compare each gain with its "
            "own standard error, not only the means",
        }
        raise NotYet(f"on a made-up table ({case}) you chose {got!r}, not {want!r}: {hints[case]}")
    got, want = choose(table.copy()), chosen_checkpoint(table)
    if got != want:
        raise NotYet(f"on this run you chose {got!r}; the rule gives {want!r}")
    return f"{want}: validation reward {table.loc[want, 'reward']:.3f}"


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
        "which report in item['evidence'] did it never open, or search for by company and quarter?"
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
