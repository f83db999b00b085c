"""A scripted policy from a team's own reference solver: four variants acted out over real HTTP
against a toolbox with no documents, graded and baselined, plus the answer kinds they rest on."""

from __future__ import annotations

import random

import pytest

from rftkit._util.answer_types import as_date, as_number, kind_of, label_set, wrong_answer
from rftkit.data import build_dataset
from rftkit.evaluation.baseline import run_baseline_sync
from rftkit.rollouts.solver import Solution, SolverPolicy, solver_policies
from rftkit.serving import serve_in_background
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from tools_service.app import create_app

TOKEN = "solver-test-token-not-secret"
ORDERS = {f"A{n}": ("shipped" if n % 2 else "held", f"2026-12-{n + 1:02d}") for n in range(10)}

toolbox = Toolbox()


@toolbox.tool
def lookup_order(ctx: ToolContext, order_id: str) -> str:
    """An order's status and its estimated delivery date.

    Args:
        order_id: The order's id, e.g. 'A1'.
    """
    if order_id not in ctx.resources["orders"]:
        raise ToolInputError(f"no order {order_id!r}", param="order_id", code="not_found")
    status, eta = ctx.resources["orders"][order_id]
    return f'{{"status": "{status}", "eta": "{eta}"}}'


LINES = build_dataset(
    [
        {"id": order, "question": f"When will order {order} arrive?", "answer": eta,
         "order_id": order, "min_tool_calls": 1}
        for order, (_, eta) in ORDERS.items()
    ],
    instructions="Answer with the date alone.",
    tools=toolbox.specs(),
)  # fmt: skip
GRADER = {
    "type": "python",
    "name": "exact_and_efficient",
    "source": (
        "def grade(sample, item):\n"
        "    right = sample['output_text'].strip() == item['reference_answer']\n"
        "    calls = len(sample.get('output_tools') or [])\n"
        "    return float(right) * (item['min_tool_calls'] / calls if calls else 0.0)\n"
    ),
}


def solve(line):
    return Solution(calls=[("lookup_order", {"order_id": line["order_id"]})],
                    answer=line["reference_answer"])  # fmt: skip


@pytest.fixture(scope="module")
def job_tools():
    app = create_app(toolbox=toolbox, resources={"orders": ORDERS}, token=TOKEN)
    with serve_in_background(app) as url:
        yield [t.job_tool(f"{url}/call", {"Authorization": f"Bearer {TOKEN}"}) for t in toolbox]


def test_each_variant_behaves_as_named_under_the_real_grader(job_tools):
    results = {
        variant: run_baseline_sync(
            LINES, policy, tools=job_tools, grader=GRADER, k=4, progress=False
        )
        for variant, policy in solver_policies(LINES, solve, seed=3).items()
    }
    calls = {v: b.rollouts["tool_calls"].mean() for v, b in results.items()}
    rewards = {v: b.rollouts["reward"].mean() for v, b in results.items()}
    assert calls == {"reference": 1, "wasteful": 2, "hasty": 0, "sloppy": 1}
    assert rewards["reference"] == 1.0 and rewards["wasteful"] == 0.5 and rewards["hasty"] == 0
    assert 0 < rewards["sloppy"] < 1
    assert results["sloppy"].per_item["bucket"].astype(str).eq("learnable").any()
    assert results["reference"].policy == "scripted-reference"


def test_sloppy_answers_are_wrong_in_the_answers_own_format_and_reproducible():
    def answers(seed):
        policy = SolverPolicy(LINES, solve, "sloppy", seed=seed, sloppy_rate=1.0)
        return [policy._plan(line["messages"], line["tools"])[1] for line in LINES]

    first = answers(7)
    assert first == answers(7)
    for line, said in zip(LINES, first, strict=True):
        assert said != line["reference_answer"] and as_date(said) is not None


def test_bad_variants_and_solvers_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="variant must be one of reference, wasteful"):
        SolverPolicy(LINES, solve, "lazy")
    wrong_tool = SolverPolicy(LINES, lambda line: Solution([("search", {})], "x"))
    with pytest.raises(ValueError, match="the solver calls search, which this line does not"):
        wrong_tool._plan(LINES[0]["messages"], LINES[0]["tools"])
    with pytest.raises(KeyError, match="no dataset line for the question 'Who"):
        wrong_tool._plan([{"role": "user", "content": "Who?"}], [])


def test_answer_kinds_and_their_wrong_answers():
    labels = label_set(["shipped", "held", "shipped", "lost"])
    assert labels == {"shipped", "held", "lost"}
    assert label_set([f"a long free-text answer number {n}" * 3 for n in range(3)]) == set()
    assert label_set(["held", "2026-12-04", "12", "shipped"]) == {"held", "shipped"}
    kinds = [kind_of(a, labels) for a in ("1,204.5", "2026-12-04", "held", '{"a": 1}', "why")]
    assert kinds == ["number", "date", "label", "json", "text"]
    draw = random.Random(0)
    for _ in range(50):
        number = wrong_answer("12.5", draw)
        assert as_number(number) not in (None, 12.5) and "." in number
        assert wrong_answer("held", draw, labels=labels) in {"shipped", "lost"}
        assert wrong_answer("0", draw) != "0"
    assert wrong_answer("a sentence", draw) == "not a sentence"
