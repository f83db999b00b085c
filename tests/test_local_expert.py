"""The scripted expert's habits: the base checkpoint's recipe pinned, and every habit on still
gives right answers from valid calls to the real tools."""

import dataclasses
import hashlib
import json
import random

import pytest

from rftkit.course import expert as expert_module
from rftkit.course.expert import BASE_HABITS, PERFECT, SLOW_ROUTE_TYPES, Habits, ScriptedExpert
from rftkit.course.pretrain import PretrainConfig, scripted_transcripts
from rftkit.course.worlds import build_world

BASE_TRANSCRIPTS = "dd86c7a2bfc850b0885558c963bd60bd9578371732de2582c013b0c0bd5b6f29"
"""sha256 of world 1001's transcripts with ``BASE_HABITS`` and ``Random(0)``: the data the
committed base checkpoint's recipe draws (printed when it was made; a change here means the
checkpoint no longer matches its recipe)."""


def test_the_base_recipe_writes_the_transcripts_the_checkpoint_was_trained_on(tmp_path):
    assert PretrainConfig().habits == BASE_HABITS and PretrainConfig().turn_markers
    conversations, _ = scripted_transcripts([1001], tmp_path, BASE_HABITS, random.Random(0))
    digest = hashlib.sha256(json.dumps(conversations, sort_keys=True).encode()).hexdigest()
    assert digest == BASE_TRANSCRIPTS


def test_a_best_quarter_task_lists_the_quarters_before_reading_one(scripted_world):
    """Quarter names are in no question and not in the vocabulary: the transcript shows them."""
    _, conversations = scripted_world
    best_quarter = [c for c in conversations if c[0]["content"].startswith("In the quarter of")]
    assert best_quarter
    for conversation in best_quarter:
        calls = [i["name"] for i in conversation if i.get("type") == "function_call"]
        assert calls[0] == "list_files"


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """Every task of world 1001 solved with all new habits often on, and every tool error."""
    local = build_world(1001, tmp_path_factory.mktemp("w"))
    errors = []

    def spy(tool):
        def call(ctx, arguments):
            try:
                return tool(ctx, arguments)
            except expert_module.ToolInputError as exc:
                errors.append(str(exc))
                raise

        return call

    habits = dataclasses.replace(
        PERFECT, parallel=0.7, reasoning=0.5, explore_after=0.5, slow_route=0.7
    )
    with pytest.MonkeyPatch.context() as patch:
        tools = {tool.name: spy(tool) for tool in expert_module.toolbox}
        patch.setattr(expert_module, "toolbox", tools)
        expert = ScriptedExpert(local.world, local.corpus(), habits, random.Random(0))
        return [expert.solve(task) for task in local.tasks], errors


def turns_of(items: list[dict]) -> list[list[dict]]:
    """The runs of consecutive function calls: one model turn each."""
    turns, current = [], []
    for item in items:
        if item.get("type") == "function_call":
            current.append(item)
        elif current:
            turns.append(current)
            current = []
    return turns


def test_new_habits_keep_answers_right_and_calls_valid(episodes):
    solved, errors = episodes
    assert errors == []  # no call the real tools refused
    assert all(e.items[-1]["content"] == e.task.answer for e in solved)
    for episode in solved:  # every call has its output, in the order the calls were made
        calls = [i["call_id"] for i in episode.items if i.get("type") == "function_call"]
        outputs = [i["call_id"] for i in episode.items if i.get("type") == "function_call_output"]
        assert calls == outputs and len(set(calls)) == len(calls)


def test_independent_reports_are_sometimes_read_together(episodes):
    solved, _ = episodes
    turns = {e.task.task_type: [len(t) for t in turns_of(e.items)] for e in solved}
    parallel = [t for e in solved for t in turns_of(e.items) if len(t) > 1]
    assert parallel and all(c["name"] == "read_file" for t in parallel for c in t)
    assert max(turns["lookup"]) == 1  # one report: nothing to read together
    by_type = {e.task.task_type for e in solved if any(len(t) > 1 for t in turns_of(e.items))}
    assert by_type <= {"difference", "growth", "comparison", "multi_hop"}
    assert any(all(len(t) == 1 for t in turns_of(e.items)) for e in solved if e.task.tier > 1)


def test_reasoning_precedes_calls_and_answers_and_repeats_itself(episodes):
    solved, _ = episodes
    reasoning = [
        (item, episode.items[n + 1 :])
        for episode in solved
        for n, item in enumerate(episode.items)
        if item.get("type") == "reasoning"
    ]
    followers = {after[0].get("type", after[0].get("role")) for _, after in reasoning}
    assert followers == {"function_call", "assistant"}
    for item, after in reasoning:  # verbose: it says it needs more, or that it has what it needs
        text = item["summary"][0]["text"]
        if after[0].get("type") == "function_call":
            calls = [i.get("type") == "function_call" for i in after] + [False]
            turn = [i["name"] for i in after[: calls.index(False)]]  # this turn's calls
            plan = f"I call {' and '.join(turn)}, then I read the output."
            assert text == f"I need more information. {plan}"
        else:
            assert text.count("I have") == 2 and text.endswith("I answer now.")


def test_exploration_after_the_answer_and_the_slow_route(episodes):
    solved, _ = episodes
    rereads = 0
    for episode in solved:
        calls = [i for i in episode.items if i.get("type") == "function_call"]
        paths = [json.loads(c["arguments"]).get("path") for c in calls]
        rereads += paths[-1] in paths[:-1] and calls[-1]["name"] == "read_file"
    assert rereads > 0
    searched = {e.task.task_type for e in solved if '"search"' in json.dumps(e.items)}
    assert searched == set(SLOW_ROUTE_TYPES)  # PERFECT never searches; the slow route does
    assert Habits().parallel == Habits().reasoning == Habits().slow_route == 0.0
