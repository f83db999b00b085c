"""A scripted policy for tests and benchmarks: deterministic behaviour, no model anywhere.

It answers the course world's tasks by acting out one of three styles with the real tools:

- ``efficient``: reads every evidence file in one parallel turn, makes the one calculator call a
  difference or growth task needs, then answers: exactly ``min_tool_calls`` calls;
- ``wasteful``: searches, lists folders, reads the evidence one file per turn, reads one again and
  calculates twice before answering: the same answer at two to three times the calls;
- ``guessing``: one search, then a guess that is right with a probability set by the task's tier
  (``GUESS_RATE``), so its baseline has always-right, never-right and sometimes-right items.

It does not read the tool outputs: its answers come from the dataset line's reference fields
(``reference_answer``, ``evidence``, ``task_type``, ``tier``), looked up by the question. So its
rewards measure the engine, the endpoints and the grader, never a model; its ``name`` starts with
``scripted`` so every table and plot says so.

Determinism: the k-th rollout of a question to start draws ``Random(f"{seed}:{task_id}:{k}")``, so
a run's per-item outcomes are the same whatever order the rollouts run in.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rftkit.course.tools import COURSE_TOOLS
from rftkit.protocol import Usage
from rftkit.rollouts.policy import PolicyTurn, ToolCallRequest

STYLES = ("efficient", "wasteful", "guessing")
GUESS_RATE = {1: 0.75, 2: 0.35, 3: 0.0}
"""How often ``guessing`` is right, by task tier (1 is a lookup, 3 a multi-hop question)."""
NEEDS_CALCULATOR = ("difference", "growth")
_CHOICE = re.compile(r": (?P<first>.+) or (?P<second>.+)\?$")

Plan = tuple[list[list[tuple[str, dict[str, Any]]]], str]


class ScriptedPolicy:
    """Acts out ``style`` on the tasks of ``items`` (course dataset lines)."""

    def __init__(self, items: Sequence[dict[str, Any]], style: str = "efficient", seed: int = 0):
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        self.style = style
        self.seed = seed
        self.name = f"scripted-{style}"
        self._lines = {_question(line["messages"]): line for line in items}
        self._started: Counter[str] = Counter()
        self._plans: dict[str, Plan] = {}

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn:
        if trace_id not in self._plans:
            self._plans[trace_id] = self._plan(conversation, tools)
        turns, answer = self._plans[trace_id]
        done = len({c["call_id"].split("-")[0] for c in conversation if "call_id" in c})
        usage = Usage(input_tokens=sum(len(str(c)) for c in conversation) // 4, output_tokens=8)
        if done < len(turns):
            calls = [
                ToolCallRequest(f"t{done}-{i}", name, json.dumps(arguments))
                for i, (name, arguments) in enumerate(turns[done])
            ]
            return PolicyTurn(tool_calls=calls, usage=usage, model=self.name)
        del self._plans[trace_id]
        return PolicyTurn(text=answer, usage=usage, model=self.name)

    def _plan(self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Plan:
        question = _question(conversation)
        line = self._lines.get(question)
        if line is None:
            raise KeyError(f"{self.name} has no dataset line for the question {question[:80]!r}")
        offered = {spec.get("function", spec).get("name") for spec in tools}
        missing = [name for name in COURSE_TOOLS if name not in offered]
        if missing:
            raise ValueError(f"{self.name} needs the course tools; missing: {', '.join(missing)}")
        evidence = list(line["evidence"])
        reads = [("read_file", {"path": path}) for path in evidence]
        calculate = [("calculator", {"expression": _expression(line)})]
        needs_calculator = line["task_type"] in NEEDS_CALCULATOR
        answer = str(line["reference_answer"])
        if self.style == "efficient":
            turns = [reads] + ([calculate] if needs_calculator else [])
            return turns, answer
        search = [("search", {"query": question, "top_k": 5})]
        if self.style == "wasteful":
            folders = sorted({path.rsplit("/", 1)[0] + "/" for path in evidence})
            turns = [search, [("list_files", {"directory": f}) for f in folders]]
            turns += [[read] for read in reads] + [reads[:1]]
            turns += [calculate, calculate]
            return turns, answer
        self._started[question] += 1
        draw = random.Random(f"{self.seed}:{line['task_id']}:{self._started[question]}")
        right = draw.random() < GUESS_RATE.get(line.get("tier", 3), 0.0)
        return [search], answer if right else _wrong_answer(line, question, draw)


def _question(messages: list[dict[str, Any]]) -> str:
    return next(m["content"] for m in messages if m.get("role") == "user")


def _expression(line: dict[str, Any]) -> str:
    """An expression whose exact result is the reference figure (a comparison's winning figure)."""
    answer = str(line["reference_value" if line.get("unit") == "company" else "reference_answer"])
    return f"round({answer} * 1, 1)" if "." in answer else f"{answer} + 0"


def _wrong_answer(line: dict[str, Any], question: str, draw: random.Random) -> str:
    """A plausible wrong answer in the reference's own format."""
    answer = str(line["reference_answer"])
    if line.get("unit") == "company":
        names = _CHOICE.search(question)
        other = [n for n in (names.groups() if names else ()) if n != answer]
        return other[0] if other else "I cannot tell"
    value = Decimal(answer)
    step = Decimal(1) if "." not in answer else Decimal("0.1")
    offset = draw.randint(1, 50) * step * draw.choice((-1, 1))
    return str(value + offset)
