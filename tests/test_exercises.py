"""The course's exercise checks: they fail on stubs and wrong answers, pass on the solutions.

The solved copies in notebooks/solutions/ prove each check passes inside its notebook (they run
under nbval); here every check is called directly with the answers a learner might get wrong, and
the committed solved copies are compared with what scripts/make_solutions.py makes from the course
notebooks, so the two cannot drift apart.
"""

import copy
import importlib.util
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from rftkit.course import exercises
from rftkit.course.dataset import course_dataset, course_tool_specs
from rftkit.course.grader import course_grader, naive_grader
from rftkit.course.redteam import cases_from_reference
from rftkit.course.world import generate_tasks, generate_world
from rftkit.data import tool_names
from rftkit.evaluation.baseline import baseline_from_traces
from rftkit.rollouts import load_traces, traces_frame

ROOT = Path(__file__).resolve().parents[1]
DEMO_RUN = ROOT / "notebooks" / "data" / "demo_run"
GRADER = {
    "type": "string_check",
    "name": "exact_answer",
    "operation": "eq",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.reference_answer }}",
}


def _load_script():
    path = ROOT / "scripts" / "make_solutions.py"
    spec = importlib.util.spec_from_file_location("make_solutions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_solutions = _load_script()


def _solution(notebook: str, **namespace):
    """Run the solution cell(s) of ``notebook`` and return the names they define."""
    for source in make_solutions.SOLUTIONS[notebook].values():
        exec(source, namespace)  # the script's own solution text, as the solved copy runs it
    return namespace


@pytest.fixture(scope="module")
def tasks():
    return pd.DataFrame([t.to_dict() for t in generate_tasks(generate_world(seed=0), seed=0)])


@pytest.fixture(scope="module")
def broken_lines():
    """The 12 lines of notebook 01's exercise, with the same three problems."""
    lines = copy.deepcopy(course_dataset(seed=0)[:12])
    lines[1]["messages"][0]["role"] = "system"
    lines[4]["messages"].append({"role": "assistant", "content": "I think it is 12.5"})
    lines[8]["tools"][1]["function"]["name"] = "ls"
    return lines


@pytest.fixture(scope="module")
def demo():
    traces = {side: load_traces(DEMO_RUN / f"traces_{side}.jsonl") for side in ("before", "after")}
    return {side: (traces_frame(t), t) for side, t in traces.items()}


def _stub(*args, **kwargs):
    raise NotImplementedError


def _not_yet(capsys, result) -> str:
    out = capsys.readouterr().out
    assert result is False
    assert out.startswith("not yet: "), out
    return out


# 00 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [..., None, 15, 100, "20", True, 20.5])
def test_00_wrong_counts_are_not_yet(capsys, tasks, answer):
    # 15 is the number of restated *figures*, the likeliest wrong answer; the tasks are 20
    _not_yet(capsys, exercises.check_restated_tasks(answer, tasks))


def test_00_solution_is_correct(capsys, tasks):
    answer = _solution("00_welcome.ipynb", tasks=tasks)["restated_tasks"]
    assert exercises.check_restated_tasks(answer, tasks) is True
    assert capsys.readouterr().out.startswith("correct: 20 of 100")
    # pandas' own count (a numpy integer) is as good an answer as a Python int
    assert exercises.check_restated_tasks(tasks["uses_restatement"].sum(), tasks) is True


# 01 ------------------------------------------------------------------------------------------


def _identity(line):
    return line


def _drops_bad_lines(line):
    return None if line["messages"][-1]["role"] == "assistant" else line


def _rewrites_question(line):
    fixed = _solution("01_data_curation.ipynb", copy=copy, course_tool_specs=course_tool_specs)[
        "repair"
    ](line)
    fixed["messages"][-1]["content"] = "What is 2 + 2?"
    return fixed


def _fixes_roles_only(line):
    fixed = copy.deepcopy(line)
    fixed["messages"] = [m for m in fixed["messages"] if m["role"] != "assistant"]
    for message in fixed["messages"]:
        message["role"] = "developer" if message["role"] == "system" else message["role"]
    return fixed  # the renamed tool is left


@pytest.mark.parametrize(
    ("repair", "hint"),
    [
        (..., "stub"),
        (_stub, "stub"),
        (_identity, "error(s) left"),
        (_fixes_roles_only, "unknown_tool"),
        (_drops_bad_lines, "return the fixed line"),
        (_rewrites_question, "question changed"),
    ],
)
def test_01_wrong_repairs_are_not_yet(capsys, broken_lines, repair, hint):
    served = tool_names(course_tool_specs())
    result = exercises.check_repair(repair, broken_lines, grader=GRADER, tool_names=served)
    assert hint in _not_yet(capsys, result)


def test_01_solution_is_correct_and_leaves_the_lines_alone(capsys, broken_lines):
    before = copy.deepcopy(broken_lines)
    repair = _solution("01_data_curation.ipynb", copy=copy, course_tool_specs=course_tool_specs)[
        "repair"
    ]
    served = tool_names(course_tool_specs())
    assert exercises.check_repair(repair, broken_lines, grader=GRADER, tool_names=served)
    assert capsys.readouterr().out.startswith("correct: ")
    assert broken_lines == before


# 02 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent_change", "hint"),
    [
        (None, "stub"),
        (_stub, "stub"),
        (lambda old, new: round((new - old) * 100 / old, 1), "return str"),
        (lambda old, new: str(round((new - old) * 100 / new, 1)), "expected '2.3'"),
        (lambda old, new: str((new - old) * 100 / old), "expected '2.3'"),
        (lambda old, new: str(round((old - new) * 100 / old, 1)), "expected"),
        (lambda old, new: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_02_wrong_percent_changes_are_not_yet(capsys, percent_change, hint):
    assert hint in _not_yet(capsys, exercises.check_percent_change(percent_change))


def test_02_solution_is_correct(capsys):
    percent_change = _solution("02_tool_hosting.ipynb")["percent_change"]
    assert exercises.check_percent_change(percent_change) is True


# 03 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redteam_cases():
    return cases_from_reference()


@pytest.mark.parametrize(
    ("config", "hint"),
    [
        (..., "stub"),
        (None, "stub"),
        (naive_grader(), "hedged: mean reward 1.000"),
        ({**naive_grader(), "operation": "ne"}, "the honest answer earns only"),
        ({**naive_grader(), "operation": "eq", "reference": "{{item.unit}}"}, "honest answer"),
        ({**naive_grader(), "operation": "equals"}, "not valid: operation"),
        (course_grader(), 'the exercise asks for a string_check'),
        ("eq", 'the exercise asks for a string_check'),
    ],
)
def test_03_wrong_string_graders_are_not_yet(capsys, redteam_cases, config, hint):
    assert hint in _not_yet(capsys, exercises.check_string_grader(config, redteam_cases))


def test_03_solution_is_correct(capsys, redteam_cases):
    my_grader = _solution("03_grader_design.ipynb", naive_grader=naive_grader)["my_grader"]
    assert exercises.check_string_grader(my_grader, redteam_cases) is True


def _reads_everything(calls, item):
    looked = {a.get("path") for tool, a in calls if tool == "read_file"}
    return set(item["evidence"]) <= looked


def _sum_must_hold_the_winner(calls, item):
    """Too strict: a comparison's sum must hold the winning figure, and nothing larger."""
    sums = [a.get("expression", "") for tool, a in calls if tool == "calculator"]
    if item["task_type"] == "comparison" and sums:
        figures = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", sums[-1])]
        winning = float(item["reference_value"])
        if winning not in figures or max(figures) > winning:
            return False
    return _reads_everything(calls, item)


@pytest.mark.parametrize(
    ("supported", "hint"),
    [
        (..., "stub"),
        ("yes", "write a function"),
        (lambda calls, item: True, "answered with no call: you said True"),
        (lambda calls, item: bool(calls), "after reading one report: you said True"),
        (lambda calls, item: 1, "return True or False"),
        (_reads_everything, "which figure in it is the winner's"),  # the -135.0 rollouts
        (_sum_must_hold_the_winner, "shows nothing either way"),  # too strict: a16's sum
    ],
)
def test_03_wrong_support_rules_are_not_yet(capsys, supported, hint):
    assert hint in _not_yet(capsys, exercises.check_supported(supported))


def test_03_support_solution_is_correct(capsys):
    supported = _solution("03_grader_design.ipynb", naive_grader=naive_grader)["supported"]
    assert exercises.check_supported(supported) is True
    assert "right answers judged as the labels judge them" in capsys.readouterr().out


# 04 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline():
    return baseline_from_traces(load_traces(DEMO_RUN / "traces_before.jsonl"))


def _no_constant(rewards):
    if len(rewards) < 2:
        return "unscored"
    if max(rewards) <= 0:
        return "always_0"
    return "always_1" if min(rewards) >= 1 else "learnable"


def _by_mean(rewards):
    mean = sum(rewards) / len(rewards)
    return "always_0" if mean == 0 else "always_1" if mean == 1 else "learnable"


@pytest.mark.parametrize("bucket", [..., _stub, _no_constant, _by_mean, lambda r: "learnable"])
def test_04_wrong_buckets_are_not_yet(capsys, baseline, bucket):
    _not_yet(capsys, exercises.check_bucket(bucket, baseline))


def test_04_solution_is_correct(capsys, baseline):
    bucket = _solution("04_baseline_and_triage.ipynb")["bucket"]
    assert exercises.check_bucket(bucket, baseline) is True


def _rewards_differ(rows):
    scored = rows.dropna(subset=["reward"])
    return len(scored) >= 2 and scored["reward"].nunique() > 1


def _any_right(rows):
    return bool(rows["correct"].fillna(False).astype(bool).any())


@pytest.mark.parametrize(
    ("keep", "hint"),
    [
        (..., "stub"),
        (_rewards_differ, "what made its rewards differ"),  # the triage's own reading
        (_any_right, "you kept it, but its answers never differ"),
        (lambda rows: False, "you dropped it"),
        (lambda rows: 1, "return True or False"),
    ],
)
def test_04_wrong_answer_signals_are_not_yet(capsys, baseline, keep, hint):
    assert hint in _not_yet(capsys, exercises.check_teaches_answer(keep, baseline))


def test_04_answer_signal_solution_is_correct(capsys, baseline):
    keep = _solution("04_baseline_and_triage.ipynb")["keep"]
    assert exercises.check_teaches_answer(keep, baseline) is True


# 06 ------------------------------------------------------------------------------------------


def _counts_discarded(frame):
    return float((frame["correct"].fillna(False).astype(bool) & (frame["tool_calls"] == 0)).mean())


def _ignores_correctness(frame):
    scored = frame[frame["reward"].notna()]
    return float((scored["tool_calls"] == 0).mean())


@pytest.mark.parametrize(
    "no_tool_correct",
    [None, _stub, _counts_discarded, _ignores_correctness, lambda frame: 0.0, lambda frame: "0.5"],
)
def test_06_wrong_shares_are_not_yet(capsys, demo, no_tool_correct):
    _not_yet(capsys, exercises.check_no_tool_correct(no_tool_correct, demo))


def test_06_solution_is_correct(capsys, demo):
    no_tool_correct = _solution("06_result_analysis.ipynb")["no_tool_correct"]
    assert exercises.check_no_tool_correct(no_tool_correct, demo) is True
    assert capsys.readouterr().out == "correct: before 0.0, after 0.0\n"


# the solved copies --------------------------------------------------------------------------


def _sources(notebook):
    return [(c.get("id"), c.cell_type, c.source) for c in notebook.cells]


@pytest.mark.parametrize("name", sorted(make_solutions.SOLUTIONS))
def test_the_committed_solved_copy_is_what_the_script_makes(name):
    committed = nbformat.read(make_solutions.SOLUTIONS_DIR / name, as_version=4)
    assert _sources(committed) == _sources(make_solutions.solved_copy(name)), (
        f"notebooks/solutions/{name} is out of date: run python scripts/make_solutions.py {name}"
    )
    executed = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in executed), f"{name}: the solved copy was not executed"


@pytest.mark.parametrize("name", sorted(make_solutions.SOLUTIONS))
def test_the_course_notebook_ships_its_exercise_unsolved(name):
    course = nbformat.read(make_solutions.NOTEBOOKS / name, as_version=4)
    outputs = [
        "".join(o.get("text", "")) for c in course.cells if c.cell_type == "code"
        for o in c.outputs
    ]
    assert any(text.startswith("not yet: ") for text in outputs), (
        f"{name}: the check should say 'not yet' in the notebook as shipped"
    )
    for cell_id in make_solutions.SOLUTIONS[name]:
        stub = next(c for c in course.cells if c.get("id") == cell_id)
        assert "NotImplementedError" in stub.source or "..." in stub.source, stub.source
