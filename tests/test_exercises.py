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

from rftkit.analysis.paired import paired_change
from rftkit.course import exercises
from rftkit.course.dataset import course_dataset, course_tool_specs
from rftkit.course.grader import course_grader, naive_grader
from rftkit.course.redteam import cases_from_reference
from rftkit.course.world import generate_tasks, generate_world
from rftkit.data import find_leakage, stratified_split, tool_names
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


def test_00_solution_is_correct(capsys, tasks, demo_reward):
    answer = _solution("00_welcome.ipynb", tasks=tasks, reward=demo_reward)["restated_tasks"]
    assert exercises.check_restated_tasks(answer, tasks) is True
    assert capsys.readouterr().out.startswith("correct: 20 of 100")
    # pandas' own count (a numpy integer) is as good an answer as a Python int
    assert exercises.check_restated_tasks(tasks["uses_restatement"].sum(), tasks) is True


@pytest.fixture(scope="module")
def demo_reward(demo):
    return paired_change(demo["before"][0], demo["after"][0])


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (..., "stub"),
        ("166", "a number of items"),
        (40, "more items, not fewer"),
        (10, "more items, not fewer"),
        (72, "square root"),  # the standard error scaled linearly with the items
        (100, "per-item changes' spread"),
        (400, "per-item changes' spread"),
    ],
)
def test_00_wrong_evaluation_sizes_are_not_yet(capsys, demo_reward, answer, hint):
    assert hint in _not_yet(capsys, exercises.check_items_needed(answer, demo_reward, 0.05))


def test_00_evaluation_size_solution_is_correct(capsys, tasks, demo_reward):
    answer = _solution("00_welcome.ipynb", tasks=tasks, reward=demo_reward)["items_for_005"]
    assert exercises.check_items_needed(answer, demo_reward, target=0.05) is True
    assert capsys.readouterr().out.startswith("correct: about 132 items")
    # the rule behind it: the SE shrinks with sqrt(items), so 2 SE = 0.05 needs SE = 0.025
    spread = demo_reward.change_se * demo_reward.items**0.5
    assert 2 * spread / 132**0.5 == pytest.approx(0.05, rel=0.01)


# 01 ------------------------------------------------------------------------------------------


SPLIT = stratified_split(course_dataset(seed=0), valid_fraction=0.2, seed=0)  # notebook 01's


def _solution_01():
    train, valid = SPLIT
    suspects = exercises.leak_suspects(train, valid)
    return _solution(
        "01_data_curation.ipynb", copy=copy, course_tool_specs=course_tool_specs,
        find_leakage=find_leakage, train=train, suspects=suspects,
    )  # fmt: skip


def _identity(line):
    return line


def _drops_bad_lines(line):
    return None if line["messages"][-1]["role"] == "assistant" else line


def _rewrites_question(line):
    fixed = _solution_01()[
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
    repair = _solution_01()[
        "repair"
    ]
    served = tool_names(course_tool_specs())
    assert exercises.check_repair(repair, broken_lines, grader=GRADER, tool_names=served)
    assert capsys.readouterr().out.startswith("correct: ")
    assert broken_lines == before


def test_01_the_leaks_are_two_reworded_training_lines_among_look_alikes():
    train, valid = SPLIT
    suspects, truth = exercises._leak_exercise(train, valid)
    leaks = {s for s, copied in truth.items() if copied}
    assert len(suspects) == 6 and len(leaks) == 2
    questions = {line["task_id"]: line["messages"][-1]["content"] for line in train}
    for suspect in suspects:
        copied = truth[suspect["task_id"]]
        if copied:  # the same answer as the training line, the question in other words
            original = next(line for line in train if line["task_id"] == copied)
            assert suspect["reference_answer"] == original["reference_answer"]
            assert suspect["messages"][-1]["content"] not in questions.values()
        else:  # an honest validation line, under a new id
            assert suspect["messages"][-1]["content"] in {
                line["messages"][-1]["content"] for line in valid
            }
    # the default threshold finds only one of the two: the exercise needs more than one call
    assert len(set(find_leakage(train, suspects)["valid_id"]) & leaks) == 1


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (..., "stub"),
        ("s5", "collection of suspect ids"),
        ({"s7"}, "not suspects"),
        (set(), "none of the leaks yet"),
        ({"s1", "s2", "s3", "s4", "s5", "s6"}, "is not a leak"),
        ({"s5"}, "one more"),  # what find_leakage finds at its default threshold
        ({"s3", "s5", "s6"}, "s6 is not a leak"),  # a look-alike with the same answer
    ],
)
def test_01_wrong_leak_sets_are_not_yet(capsys, answer, hint):
    train, valid = SPLIT
    assert hint in _not_yet(capsys, exercises.check_leaks(answer, train, valid))


def test_01_leak_solution_is_correct(capsys):
    train, valid = SPLIT
    leaks = _solution_01()["leaks"]
    assert exercises.check_leaks(leaks, train, valid) is True
    assert "correct: s3 = t0004, s5 = t0001" in capsys.readouterr().out


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


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (..., "stub"),
        (1.5, "between 0 and 1"),
        (0.01, "leaves out the retries"),  # the budget itself, as if nothing were retried
        (0.1, "could fail more often"),
        (0.2, "could fail more often"),
        (0.3, "a rollout makes 5 calls"),  # right for one call, wrong for five
        (0.5, "over the 1% budget"),
    ],
)
def test_02_wrong_error_rates_are_not_yet(capsys, answer, hint):
    assert hint in _not_yet(capsys, exercises.check_error_rate(answer, 0.01, calls=5))


def test_02_error_rate_solution_is_correct_and_keeps_the_budget(capsys):
    rate = _solution("02_tool_hosting.ipynb")["error_rate"]
    assert exercises.check_error_rate(rate, discard_budget=0.01, calls=5) is True
    assert exercises.discarded_share(rate, calls=5) == pytest.approx(0.01)
    assert exercises.discarded_share(rate + 0.01, calls=5) > 0.01


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


# 05: predict the hack from the red team -------------------------------------------------------


@pytest.fixture(scope="module")
def trained_rewards_redteam():
    from rftkit.course.rewards import flat_cost_grader, latency_grader
    from rftkit.evaluation.redteam import run_redteam

    cases = cases_from_reference()
    return {
        "flat_cost": run_redteam(flat_cost_grader(), cases),
        "latency": run_redteam(latency_grader(), cases),
    }


@pytest.mark.parametrize(
    ("prediction", "hint"),
    [
        (None, "stub"),
        ({"reward": "flat_cost"}, "two keys"),
        ({"reward": "course", "tool_calls": "fewer"}, "name one of the rewards"),
        ({"reward": "latency", "tool_calls": "fewer"}, "pays a lucky guess 0.300"),
        ({"reward": "flat_cost", "tool_calls": "more"}, "what does each call do"),
        ({"reward": "flat_cost", "tool_calls": "sideways"}, "one of fewer, same, more"),
    ],
)
def test_05_wrong_predictions_are_not_yet(capsys, trained_rewards_redteam, prediction, hint):
    from rftkit.course.job_exercises import check_predicted_hack

    assert check_predicted_hack(prediction, trained_rewards_redteam) is False
    assert hint in capsys.readouterr().out


def test_05_the_right_prediction_is_correct(capsys, trained_rewards_redteam):
    from rftkit.course.job_exercises import check_predicted_hack

    right = {"reward": "flat_cost", "tool_calls": "fewer"}
    assert check_predicted_hack(right, trained_rewards_redteam) is True
    assert "1.000 against 0.771" in capsys.readouterr().out


# 06: pick a checkpoint ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selection():
    from rftkit.course.checkpoints import selection_table

    return selection_table(pd.read_csv(DEMO_RUN / "validation.csv"))


@pytest.mark.parametrize(
    ("choose", "hint"),
    [
        (lambda table: table.index[-1], "train reward is measured"),  # the last checkpoint
        (lambda table: table["train reward"].idxmax(), "train reward is measured"),
        (lambda table: table["reward"].idxmax(), "not evidence of one"),  # ignores the noise
        (
            lambda table: table[table["gain"] > 0]["reward"].idxmax(),
            "not evidence of one",
        ),
    ],
)
def test_06_wrong_checkpoint_choices_are_not_yet(capsys, selection, choose, hint):
    table = selection.assign(**{"train reward": range(len(selection))})
    assert hint in _not_yet(capsys, exercises.check_checkpoint_choice(choose, table))


def test_06_the_checkpoint_rule_is_correct(capsys, selection):
    choose = _solution("06_result_analysis.ipynb")["choose"]
    assert exercises.check_checkpoint_choice(choose, selection) is True
    assert exercises.chosen_checkpoint(selection) in capsys.readouterr().out
