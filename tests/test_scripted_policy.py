"""The scripted policy: says it is scripted, refuses what it cannot act out."""

import asyncio

import pytest

from rftkit.course.dataset import course_dataset
from rftkit.course.scripted import ScriptedPolicy

ITEMS = course_dataset(seed=0, n=5)


def test_name_says_scripted_and_bad_style_is_refused():
    assert ScriptedPolicy(ITEMS, "wasteful").name == "scripted-wasteful"
    with pytest.raises(ValueError, match="style must be one of efficient, wasteful, guessing"):
        ScriptedPolicy(ITEMS, "clever")


def test_unknown_question_and_missing_tools_are_clear_errors():
    policy = ScriptedPolicy(ITEMS)
    unknown = [{"role": "user", "content": "What is the meaning of life?"}]
    with pytest.raises(KeyError, match="no dataset line for the question 'What is the meaning"):
        asyncio.run(policy.next_turn(unknown, ITEMS[0]["tools"], trace_id="trace_1"))
    known = ITEMS[0]["messages"]
    with pytest.raises(ValueError, match="missing: search, list_files, read_file, calculator"):
        asyncio.run(policy.next_turn(known, [], trace_id="trace_2"))


def test_efficient_reads_all_evidence_in_one_turn_then_answers():
    line = next(item for item in ITEMS if item["task_type"] == "comparison")
    policy = ScriptedPolicy(ITEMS)
    conversation = list(line["messages"])
    first = asyncio.run(policy.next_turn(conversation, line["tools"], trace_id="trace_1"))
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("read_file", f'{{"path": "{path}"}}') for path in line["evidence"]
    ]
    for call in first.tool_calls:
        conversation.append(
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
        conversation.append(
            {"type": "function_call_output", "call_id": call.call_id, "output": "..."}
        )
    final = asyncio.run(policy.next_turn(conversation, line["tools"], trace_id="trace_1"))
    assert final.is_final and final.text == line["reference_answer"]
