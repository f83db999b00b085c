"""Tool-use patterns on hand-built traces (exact figures) and on the committed demo run."""

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rftkit.analysis.patterns import (
    compare_patterns,
    evidence_files_read,
    pattern_examples,
    pattern_summary,
    rollout_patterns,
    tool_choice,
)
from rftkit.analysis.traces import latency_percentiles, side_by_side, transcript
from rftkit.course.dataset import course_dataset
from rftkit.protocol import (
    FunctionSpanData,
    FunctionSpec,
    GenerationSpanData,
    Span,
    ToolCall,
    Trace,
)
from rftkit.rollouts import load_traces, traces_frame

DEMO = Path(__file__).parents[1] / "notebooks" / "data" / "demo_run"
ITEMS = {
    "a": {"task_type": "lookup", "evidence": ["r/x.md"]},
    "b": {"task_type": "comparison", "evidence": ["r/x.md", "r/y.md"]},
}


def _trace(item_id: str, turns: list[list[tuple[str, dict, int]]], trace_id: str = "t") -> Trace:
    """A rollout whose turns each call the given ``(tool, arguments, status)``s, then answer."""
    spans, clock = [], 0.0

    def span(data):
        nonlocal clock
        spans.append(Span(trace_id=trace_id, span_id=f"s{len(spans)}", started_at=clock,
                          ended_at=clock + 1, span_data=data))  # fmt: skip
        clock += 1

    for n, calls in enumerate(turns):
        span(GenerationSpanData(tool_calls=[
            ToolCall(id=f"c{n}{i}", function=FunctionSpec(name=name, arguments=json.dumps(args)))
            for i, (name, args, _) in enumerate(calls)
        ]))  # fmt: skip
        for name, args, status in calls:
            span(FunctionSpanData(name=name, input=json.dumps(args), status_code=status,
                                  output="ok" if status == 200 else None,
                                  error=None if status == 200 else "refused"))  # fmt: skip
    span(GenerationSpanData(output_text="42"))
    return Trace(trace_id=trace_id, item_id=item_id, policy="hand", status="completed",
                 started_at=0.0, ended_at=clock, spans=spans, reward=1.0)  # fmt: skip


def _read(path, status=200):
    return ("read_file", {"path": path}, status)


SEARCH = ("search", {"query": "revenue"}, 200)
CALC = ("calculator", {"expression": "1+1"}, 200)


def test_one_rollout_counted_exactly():
    # turn 1: search + failed read of the evidence (parallel); turn 2: the read that works,
    # then two more calls in turn 3; then the answer turn
    trace = _trace("a", [[SEARCH, _read("r/x.md", 404)], [_read("r/x.md")], [SEARCH, CALC]])
    row = rollout_patterns([trace], ITEMS).iloc[0]
    assert row[["turns", "tool_turns", "tool_calls", "parallel_turns"]].tolist() == [4, 3, 5, 2]
    assert row["task_type"] == "lookup"
    assert bool(row["evidence_read"]) and row["calls_after_evidence"] == 2


def test_every_evidence_path_must_be_read():
    one_of_two = _trace("b", [[_read("r/x.md")], [CALC]])
    both = _trace("b", [[_read("r/x.md")], [SEARCH], [_read("r/y.md"), CALC]], trace_id="u")
    frame = rollout_patterns([one_of_two, both], ITEMS)
    assert frame["evidence_read"].tolist() == [False, True]
    assert pd.isna(frame["calls_after_evidence"].iloc[0])
    assert frame["calls_after_evidence"].iloc[1] == 1  # the calculator in the same turn


def test_evidence_rule_is_a_parameter():
    def searched(calls, item):  # another task: evidence is "a search that answered"
        return any(c.name == "search" and c.status_code == 200 for c in calls)

    trace = _trace("a", [[SEARCH], [SEARCH], [CALC]])
    assert rollout_patterns([trace], ITEMS)["evidence_read"].tolist() == [False]
    assert rollout_patterns([trace], ITEMS, searched)["calls_after_evidence"].tolist() == [2.0]


def test_the_evidence_tool_and_its_argument_are_parameters():
    """A project whose documents open with ``open_doc(doc_id=...)``: the same rule, its names."""
    opened = ("open_doc", {"doc_id": "r/x.md"}, 200)
    trace = _trace("a", [[opened], [CALC]])
    rule = functools.partial(evidence_files_read, tool="open_doc", argument="doc_id")
    assert rollout_patterns([trace], ITEMS)["evidence_read"].tolist() == [False]
    assert rollout_patterns([trace], ITEMS, rule)["calls_after_evidence"].tolist() == [1.0]
    refused = _trace("a", [[("open_doc", {"doc_id": "r/x.md"}, 404)]])
    assert rollout_patterns([refused], ITEMS, rule)["evidence_read"].tolist() == [False]


@pytest.mark.parametrize(
    "call",
    [
        ("read_file", {"path": ["r/x.md"]}, 200),  # a path that is not a string
        ("read_file", {"file": "r/x.md"}, 200),
        ("list_files", {"path": "r/x.md"}, 200),  # another tool with the same argument
    ],
)
def test_odd_reads_are_not_evidence(call):
    assert not evidence_files_read([_trace("a", [[call]]).spans[1].span_data], ITEMS["a"])


@pytest.mark.parametrize("text", ["[" * 100_000, '{"path": "r/x.md"', "", "null", '"r/x.md"'])
def test_unreadable_arguments_are_not_evidence_and_never_crash(text):
    call = FunctionSpanData(name="read_file", input=text, status_code=200, output="ok")
    assert not evidence_files_read([call], ITEMS["a"])


def test_no_evidence_listed_is_never_read():
    assert not evidence_files_read([], {"evidence": []})
    assert not evidence_files_read([], {})


def test_summary_pools_turns_and_averages_rollouts():
    runs = [
        _trace("a", [[SEARCH, SEARCH, SEARCH], [_read("r/x.md")]], trace_id="p"),  # 3 turns
        _trace("b", [[SEARCH]], trace_id="q"),  # 2 turns, evidence never read
    ]
    summary = pattern_summary(rollout_patterns(runs, ITEMS))
    assert summary["rollouts"] == 2
    assert summary["turns per rollout"] == 2.5
    assert summary["calls per tool turn"] == 5 / 3
    assert summary["share of tool turns with 2+ calls"] == 1 / 3
    assert summary["share of rollouts that read the evidence"] == 0.5
    assert summary["calls after the evidence was read"] == 0.0
    assert summary["reasoning tokens per rollout"] == 0.0  # these turns report none


def test_reasoning_tokens_are_summed_over_a_rollouts_turns():
    trace = _trace("a", [[SEARCH], [_read("r/x.md")]])
    turns = [s.span_data for s in trace.spans if isinstance(s.span_data, GenerationSpanData)]
    for turn, reasoning in zip(turns, (5, 0, 7), strict=True):
        turn.usage.reasoning_tokens = reasoning
    other = _trace("b", [[SEARCH]], trace_id="u")
    patterns = rollout_patterns([trace, other], ITEMS)
    assert patterns["reasoning_tokens"].tolist() == [12, 0]
    assert pattern_summary(patterns)["reasoning tokens per rollout"] == 6.0


def test_compare_gives_the_change():
    before = rollout_patterns([_trace("a", [[SEARCH], [SEARCH], [_read("r/x.md")]])], ITEMS)
    after = rollout_patterns([_trace("a", [[SEARCH, _read("r/x.md")]])], ITEMS)
    table = compare_patterns(before, after)
    change = table[["before", "after", "change"]]
    assert change.loc["turns per rollout"].tolist() == [4.0, 2.0, -2.0]
    assert change.loc["share of tool turns with 2+ calls"].tolist() == [0.0, 1.0, 1.0]
    assert table["change SE"].isna().all()  # one item: no spread to measure


def _runs_of_turns(turns_before: list[int], turns_after: list[int]) -> tuple:
    """Two runs with one rollout per item, rollout i taking the given number of search turns."""
    def run(turns: list[int]) -> pd.DataFrame:
        rows = [_trace("a", [[SEARCH]] * n, trace_id=f"t{i}") for i, n in enumerate(turns)]
        patterns = rollout_patterns(rows, ITEMS)
        return patterns.assign(item_id=[f"i{i}" for i in range(len(turns))])
    return run(turns_before), run(turns_after)


def test_the_change_se_is_a_paired_bootstrap_over_items():
    rng = np.random.default_rng(1)
    before = rng.integers(1, 8, size=60).tolist()
    after = [max(1, t - int(rng.integers(0, 3))) for t in before]
    b, a = _runs_of_turns(before, after)
    table = compare_patterns(b, a)
    # one rollout per item: the paired SE of a mean is the spread of the differences / sqrt(n)
    diff = np.array(after) - np.array(before)
    closed_form = diff.std(ddof=1) / np.sqrt(len(diff))
    assert table.loc["turns per rollout", "change SE"] == pytest.approx(closed_form, rel=0.1)
    assert table.loc["turns per rollout", "change"] == pytest.approx(diff.mean())
    assert compare_patterns(b, a).equals(table)  # seeded: the same table again
    assert not compare_patterns(b, a, seed=1).equals(table)
    # pairing matters: the same rollouts unpaired (items shuffled) give a wider spread
    shuffled = a.assign(item_id=a["item_id"].sample(frac=1, random_state=0).to_numpy())
    unpaired = compare_patterns(b, shuffled).loc["turns per rollout", "change SE"]
    assert unpaired > 1.5 * table.loc["turns per rollout", "change SE"]


def test_tool_choice_per_task_type_folds_unknown_names():
    runs = [
        _trace("a", [[SEARCH], [_read("r/x.md")], [("calculatornot", {}, 404)]], trace_id="p"),
        _trace("b", [[SEARCH, SEARCH], [CALC]], trace_id="q"),
    ]
    table = tool_choice(runs, ITEMS, tools={"search", "read_file", "calculator"})
    assert table.to_dict("index") == {
        "comparison": {"(not a tool)": 0, "calculator": 1, "read_file": 0, "search": 2},
        "lookup": {"(not a tool)": 1, "calculator": 0, "read_file": 1, "search": 1},
    }


def test_an_item_missing_from_items_is_named():
    trace = _trace("zz", [[SEARCH]], trace_id="t-missing")
    with pytest.raises(KeyError, match="t-missing.*'zz'"):
        rollout_patterns([trace], ITEMS)
    with pytest.raises(KeyError, match="'zz'"):
        tool_choice([trace], ITEMS)


def test_pattern_examples_pick_the_item_that_moved_most_each_way():
    before = rollout_patterns(
        [_trace("a", [[SEARCH], [SEARCH], [_read("r/x.md")]], trace_id="p"),
         _trace("b", [[_read("r/x.md")], [_read("r/y.md")], [CALC], [CALC]], trace_id="q")],
        ITEMS,
    )  # fmt: skip
    after = rollout_patterns(
        [_trace("a", [[_read("r/x.md")]], trace_id="r"),
         _trace("b", [[_read("r/x.md"), _read("r/y.md")], [CALC]], trace_id="s")],
        ITEMS,
    )  # fmt: skip
    assert before["tools"].tolist() == [("search", "read_file"), ("read_file", "calculator")]
    examples = pattern_examples(before, after)
    assert examples.loc["parallel calls", ["item_id", "before", "after"]].tolist() == ["b", 0, 1]
    assert examples.loc["early stop", ["item_id", "before", "after"]].tolist() == ["b", 2, 1]
    assert examples.loc["fewer turns", ["item_id", "before", "after"]].tolist() == ["a", 4, 2]
    assert pd.isna(examples.loc["shorter reasoning", "item_id"])  # nobody reasoned: no example
    switch = examples.loc["tool switch"]
    assert switch[["item_id", "before", "after"]].tolist() == ["a", "read_file search", "read_file"]
    assert examples.loc["parallel calls", ["trace_before", "trace_after"]].tolist() == ["q", "s"]


def test_an_example_whose_trained_rollout_was_right_comes_first():
    seq_a = _trace("a", [[_read("r/x.md")], [SEARCH]], trace_id="p")
    par_a = _trace("a", [[_read("r/x.md"), SEARCH]], trace_id="q")
    seq_b = _trace("b", [[_read("r/x.md")], [_read("r/y.md")], [CALC]], trace_id="r")
    par_b = _trace("b", [[_read("r/x.md"), _read("r/y.md"), CALC]], trace_id="s")
    after = rollout_patterns([par_a, par_b], ITEMS)
    assert pattern_examples(rollout_patterns([seq_a, seq_b], ITEMS), after).loc[
        "parallel calls", "item_id"] == "a"  # fmt: skip  (first of a tie)
    after.loc[after["item_id"] == "a", "reward"] = 0.0  # a's trained rollout got it wrong
    examples = pattern_examples(rollout_patterns([seq_a, seq_b], ITEMS), after)
    assert examples.loc["parallel calls", ["item_id", "trace_after"]].tolist() == ["b", "s"]


def test_a_garbled_tool_name_is_no_tool_switch():
    before = rollout_patterns([_trace("a", [[_read("r/x.md")]], trace_id="p")], ITEMS)
    after = rollout_patterns([_trace("a", [[("read file x", {}, 404)], [_read("r/x.md")]],
                                     trace_id="q")], ITEMS)  # fmt: skip
    assert pattern_examples(before, after).loc["tool switch", "item_id"] == "a"
    named = pattern_examples(before, after, tools={"read_file", "search", "calculator"})
    assert pd.isna(named.loc["tool switch", "item_id"])


def test_the_example_rollouts_are_the_ones_that_show_the_change():
    sequential = _trace("b", [[_read("r/x.md")], [_read("r/y.md")]], trace_id="seq")
    together = _trace("b", [[_read("r/x.md"), _read("r/y.md")]], trace_id="par")
    before = rollout_patterns([together, sequential], ITEMS)
    after = rollout_patterns([sequential, together], ITEMS)
    after["trace_id"] = ["seq2", "par2"]
    after.loc[1, "parallel_turns"] = 2  # the item moved towards parallel calls on average
    examples = pattern_examples(before, after)
    assert examples.loc["parallel calls", ["trace_before", "trace_after"]].tolist() == [
        "seq", "par2"
    ]  # fmt: skip
    table = side_by_side([sequential, together], [together], "b", ("seq", None))
    assert table["before"].iloc[0].startswith("→ read_file")  # the sequential rollout
    assert table["after"].iloc[0] == "[2 calls in one turn]"


def test_a_transcript_marks_parallel_turns_and_reasoning():
    trace = _trace("b", [[_read("r/x.md"), _read("r/y.md")], [CALC]])
    trace.spans[0].span_data.usage.reasoning_tokens = 9
    lines = transcript(trace)
    assert lines[0] == "[2 calls in one turn, 9 reasoning tokens]"
    assert lines[1].startswith("→ read_file") and lines[3].startswith("→ read_file")
    assert sum(line.startswith("[") for line in lines) == 1  # the one-call turn gets no note


def test_latency_percentiles_per_run():
    frame = pd.DataFrame({"latency_s": [float(s) for s in range(1, 101)]})
    table = latency_percentiles({"before": frame, "after": frame / 2})
    assert table.loc["before"].tolist() == pytest.approx([50.5, 95.05])
    assert table.loc["after"].tolist() == pytest.approx([25.25, 47.525])


def demo_items() -> dict[str, dict]:
    """The demo run's lines: held-out worlds 100 and 101, ids prefixed as ``rftkit demo`` does."""
    return {
        f"w{seed}-{line['task_id']}": line
        for seed in (100, 101)
        for line in course_dataset(seed=seed, style="compact", n=20)
    }


def test_the_demo_run():
    items = demo_items()
    before, after = (load_traces(DEMO / f"traces_{n}.jsonl") for n in ("before", "after"))
    patterns = {"before": rollout_patterns(before, items), "after": rollout_patterns(after, items)}
    for name, traces in (("before", before), ("after", after)):
        frame = traces_frame(traces)
        assert patterns[name]["turns"].tolist() == frame["turns"].tolist()
        # calls asked for; a rollout cut off at max_episode_steps never runs its last ones
        assert (patterns[name]["tool_calls"] >= frame["tool_calls"]).all()
    full = compare_patterns(patterns["before"], patterns["after"])
    table = full[["before", "after", "change"]]
    # the base model reads together sometimes; after training on the latency reward, more often
    parallel = table.loc["share of tool turns with 2+ calls"].round(3).tolist()
    assert parallel == [0.103, 0.266, 0.163]
    assert table.loc["calls per tool turn", "before"].round(3) == 1.117
    assert table.loc["turns per rollout"].round(3).tolist() == [4.525, 3.35, -1.175]
    assert table.loc["reasoning tokens per rollout"].round(3).tolist() == [60.038, 19.125, -40.912]
    read = table.loc["share of rollouts that read the evidence"].tolist()
    assert read == pytest.approx([0.7, 0.6, -0.1])
    choice = tool_choice(after, items)
    assert choice.to_numpy().sum() == traces_frame(after)["tool_calls"].sum()  # calls run
    assert set(choice.index) == {line["task_type"] for line in items.values()}


def test_real_rollouts_show_the_patterns_the_scripts_act_out():
    """Through the real tool service: ``efficient`` reads all its evidence in one turn (parallel
    when there are two reports) and stops; ``wasteful`` reads one report per turn, then reads one
    again and calculates twice (``rftkit.course.scripted``)."""
    from rftkit.course.grader import course_grader
    from rftkit.course.scripted import ScriptedPolicy
    from rftkit.course.session import course_session
    from rftkit.rollouts import run_rollouts_sync

    with course_session(seed=0, style="compact", n=12) as course:
        common = dict(tools=course.job_tools, grader=course_grader(), progress=False)
        runs = {
            style: run_rollouts_sync(course.items, ScriptedPolicy(course.items, style), **common)
            for style in ("efficient", "wasteful")
        }
    items = {line["task_id"]: line for line in course.items}
    efficient, wasteful = (rollout_patterns(runs[s], items) for s in ("efficient", "wasteful"))
    assert efficient["evidence_read"].all() and wasteful["evidence_read"].all()
    two_reports = efficient["item_id"].map(lambda i: len(items[i]["evidence"]) >= 2)
    assert 0 < two_reports.sum() < len(two_reports)
    assert efficient["parallel_turns"].tolist() == two_reports.astype(int).tolist()
    # wasteful's only parallel turn lists the folders, when the reports sit in two
    folders = wasteful["item_id"].map(
        lambda i: len({p.rsplit("/", 1)[0] for p in items[i]["evidence"]})
    )
    assert wasteful["parallel_turns"].tolist() == (folders >= 2).astype(int).tolist()
    # after the evidence: efficient makes only the calculator call a difference/growth needs
    needs_calculator = efficient["task_type"].isin(["difference", "growth"])
    assert efficient["calls_after_evidence"].tolist() == needs_calculator.astype(float).tolist()
    assert (wasteful["calls_after_evidence"] == 3).all()  # a read again, two calculations
