"""A scripted policy for any task: the team's reference solver, and variants derived from it.

A *solver* is a plain function the team writes: given a dataset line, the tool calls a good agent
would make and the answer it would give::

    def solve(line):
        order = line["order_id"]
        return Solution(calls=[("lookup_order", {"order_id": order})],
                        answer=line["reference_answer"])

:class:`SolverPolicy` acts it out against the real tool endpoints, in one of four variants, so a
project can baseline, triage and test its grader before any model is involved:

- ``reference``: the solver's calls, one per turn, then its answer;
- ``wasteful``: every call made twice, then the same right answer (twice the calls);
- ``hasty``: the right answer at once, without a single call (a lucky guess);
- ``sloppy``: the solver's calls, then, in ``sloppy_rate`` of the rollouts, a plausible wrong
  answer of the same kind (:func:`rftkit._util.answer_types.wrong_answer`), else the right one.

Like :class:`~rftkit.course.scripted.ScriptedPolicy` it does not read the tool outputs, its
``name`` starts with ``scripted`` so tables say so, and the k-th rollout of a question to start
draws ``Random(f"{seed}:{question}:{k}")``, so a run's outcomes do not depend on rollout order.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rftkit._util.answer_types import label_set, wrong_answer
from rftkit.data.curate import question_of
from rftkit.protocol import Usage

from .policy import PolicyTurn, ToolCallRequest

VARIANTS = ("reference", "wasteful", "hasty", "sloppy")
DEFAULT_SLOPPY_RATE = 0.5


@dataclass(frozen=True)
class Solution:
    """What the reference solver does for one line: ``calls`` in order, then ``answer``."""

    calls: Sequence[tuple[str, Mapping[str, Any]]] = field(default_factory=tuple)
    answer: str = ""


Solver = Callable[[dict[str, Any]], Solution]


class SolverPolicy:
    """Acts out ``variant`` of ``solve`` on the lines of ``items``."""

    def __init__(
        self,
        items: Sequence[dict[str, Any]],
        solve: Solver,
        variant: str = "reference",
        *,
        seed: int = 0,
        sloppy_rate: float = DEFAULT_SLOPPY_RATE,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        if not 0.0 <= sloppy_rate <= 1.0:
            raise ValueError(f"sloppy_rate must be between 0 and 1, not {sloppy_rate}")
        self.variant = variant
        self.seed = seed
        self.sloppy_rate = sloppy_rate
        self.name = f"scripted-{variant}"
        self._solve = solve
        self._lines = {question_of(line): line for line in items}
        self._answers = [str(solve(line).answer) for line in items] if variant == "sloppy" else []
        self._labels = label_set(self._answers)
        self._started: Counter[str] = Counter()
        self._plans: dict[str, tuple[list[tuple[str, Mapping[str, Any]]], str]] = {}

    async def next_turn(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], *, trace_id: str
    ) -> PolicyTurn:
        if trace_id not in self._plans:
            self._plans[trace_id] = self._plan(conversation, tools)
        calls, answer = self._plans[trace_id]
        done = sum(1 for item in conversation if item.get("type") == "function_call")
        usage = Usage(input_tokens=sum(len(str(c)) for c in conversation) // 4, output_tokens=8)
        if done < len(calls):
            name, arguments = calls[done]
            request = ToolCallRequest(f"call_{done}", name, json.dumps(dict(arguments)))
            return PolicyTurn(tool_calls=[request], usage=usage, model=self.name)
        del self._plans[trace_id]
        return PolicyTurn(text=answer, usage=usage, model=self.name)

    def _plan(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[list[tuple[str, Mapping[str, Any]]], str]:
        question = question_of({"messages": conversation})
        line = self._lines.get(question)
        if line is None:
            raise KeyError(f"{self.name} has no dataset line for the question {question[:80]!r}")
        solution = self._solve(line)
        calls, answer = list(solution.calls), str(solution.answer)
        offered = {spec.get("function", spec).get("name") for spec in tools}
        unknown = sorted({name for name, _ in calls} - offered)
        if unknown:
            raise ValueError(
                f"the solver calls {', '.join(unknown)}, which this line does not offer "
                f"(it offers {', '.join(sorted(map(str, offered)))})"
            )
        if self.variant == "wasteful":
            return [call for call in calls for _ in range(2)], answer
        if self.variant == "hasty":
            return [], answer
        if self.variant == "sloppy":
            self._started[question] += 1
            draw = random.Random(f"{self.seed}:{question}:{self._started[question]}")
            if draw.random() < self.sloppy_rate:
                answer = wrong_answer(answer, draw, others=self._answers, labels=self._labels)
        return calls, answer


def solver_policies(
    items: Sequence[dict[str, Any]], solve: Solver, *, seed: int = 0
) -> dict[str, SolverPolicy]:
    """One policy per variant, by variant name: what a project baselines its grader with."""
    return {variant: SolverPolicy(items, solve, variant, seed=seed) for variant in VARIANTS}
