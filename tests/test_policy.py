"""The Policy interface: small, structural, and what the engine relies on."""

import asyncio

from rftkit.protocol import Usage
from rftkit.rollouts import Policy, PolicyTurn, ToolCallRequest


class _Constant:
    name = "constant"

    async def next_turn(self, conversation, tools, *, trace_id):
        return PolicyTurn(text="42", usage=Usage(input_tokens=3), model="constant-model")


def test_any_object_with_name_and_next_turn_is_a_policy():
    assert isinstance(_Constant(), Policy)
    assert not isinstance(object(), Policy)


def test_turn_without_tool_calls_is_final():
    turn = asyncio.run(_Constant().next_turn([], [], trace_id="trace_x"))
    assert turn.is_final and turn.text == "42" and turn.usage.input_tokens == 3
    calls = PolicyTurn(tool_calls=[ToolCallRequest("c1", "search", '{"query": "x"}')])
    assert not calls.is_final
