"""A team's own task swapped into a project made by ``rftkit new``: order questions answered with
two tools over a SQLite database, no documents at all (issue 19's "order-assistant").

:func:`swap_in_order_task` replaces the example's tools, solver, tasks, answer grader, rubric,
labels and example tests, deletes ``docs/``, and leaves everything else as the template made it:
the project's generic checks (``tests/test_project.py``, ``checks.py``, the notebooks) must pass
unchanged.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

STATUSES = ("shipped", "held", "delivered", "cancelled")
CARRIERS = ("ups", "dhl", "fedex")
ORDERS = 30
STATUS_TASKS = 16

TOOLS = '''"""Two tools over the order database (data/orders.db); no documents."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from rftkit.toolserver.resources import PerThread

from {package} import DATA

DB = DATA / "orders.db"

toolbox = Toolbox()


@toolbox.tool
def lookup_order(ctx: ToolContext, order_id: str) -> str:
    """Look an order up: its status, when it was ordered, its carrier and tracking number.

    Args:
        order_id: The order's id, e.g. 'A7'.
    """
    row = ctx.resources["db"].execute(
        "select status, ordered_on, carrier, tracking from orders where order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        raise ToolInputError(f"no order {{order_id!r}}", param="order_id", code="not_found")
    keys = ("status", "ordered_on", "carrier", "tracking")
    return json.dumps({{"order_id": order_id, **dict(zip(keys, row, strict=True))}})


@toolbox.tool
def get_shipping_eta(ctx: ToolContext, carrier: str, tracking: str) -> str:
    """When a shipment left and when it is expected, from the carrier's tracking number.

    Args:
        carrier: The carrier, as lookup_order gives it, e.g. 'ups'.
        tracking: The tracking number, as lookup_order gives it.
    """
    row = ctx.resources["db"].execute(
        "select shipped_on, eta from shipments where carrier = ? and tracking = ?",
        (carrier, tracking),
    ).fetchone()
    if row is None:
        raise ToolInputError(
            f"no {{carrier}} shipment {{tracking!r}}", param="tracking", code="not_found"
        )
    return json.dumps({{"carrier": carrier, "tracking": tracking, "shipped_on": row[0],
                       "eta": row[1]}})


def load_docs() -> Corpus | None:
    """No documents: these tools read the database."""
    return None


def resources() -> dict[str, Any]:
    """One database connection per worker thread."""
    return {{"db": PerThread(lambda: sqlite3.connect(DB, check_same_thread=False))}}
'''

SOLVER = '''"""The reference solver: look the order up, then ask the carrier for an ETA."""

from __future__ import annotations

from typing import Any

from rftkit.rollouts.solver import Solution


def solve(line: dict[str, Any]) -> Solution:
    calls = [("lookup_order", {"order_id": line["order_id"]})]
    if line["task_type"] == "eta":
        calls.append(("get_shipping_eta", {"carrier": line["carrier"],
                                           "tracking": line["tracking"]}))
    return Solution(calls=calls, answer=str(line["reference_answer"]))
'''

ANSWER_GRADER = '''"""An order answer: right status or date 1, a date a day off 0.75, else 0.

Self-contained python grader source. Reads item.reference_answer. An answer longer than 60
characters, shaped like JSON (a pasted tool output), hedged, or naming several statuses or dates
earns nothing.
"""

import re
from datetime import date

DATE = re.compile(r"\\b\\d{4}-\\d{2}-\\d{2}\\b")
HEDGES = re.compile(r"\\b(either|or|maybe|between|about|probably)\\b", re.IGNORECASE)
STATUSES = ("shipped", "held", "delivered", "cancelled")
MAX_CHARS = 60


def answer_text(sample):
    data = sample.get("output_json")
    if isinstance(data, dict) and "answer" in data:
        return str(data["answer"])
    return sample.get("output_text") or ""


def grade(sample, item):
    text = answer_text(sample).strip()
    reference = str(item["reference_answer"])
    if not text or len(text) > MAX_CHARS or text[0] in "{[" or HEDGES.search(text):
        return 0.0
    if DATE.fullmatch(reference):
        found = set(DATE.findall(text))
        if len(found) != 1:
            return 0.0
        off = abs((date.fromisoformat(found.pop()) - date.fromisoformat(reference)).days)
        return 1.0 if off == 0 else 0.75 if off == 1 else 0.0
    named = set(re.findall(r"[a-z]+", text.lower())) & set(STATUSES)
    return 1.0 if named == {reference} else 0.0
'''

LABELS_GUIDE = """# Labels for the order assistant

Answers to `tasks.jsonl`, labelled by the rubric below (fixture labels for rftkit's test).

## Rubric (version 1)

- **1** — the right status, alone or in a short sentence; or the right delivery date.
- **0.75** — a delivery date one day off.
- **0** — anything else: a wrong status or date, several of them, a hedge, a pasted record.
"""

EXAMPLE_TESTS = '''"""Tests of the order tools."""

import pytest
from rftkit.toolserver.registry import ToolContext, ToolInputError
from rftkit.toolserver.resources import Resources

from {package} import tools


def call(name, **arguments):
    context = ToolContext(resources=Resources(tools.resources()))
    return tools.toolbox[name](context, arguments)


def test_lookup_order_gives_the_record_and_refuses_unknown_orders():
    assert '"status": "delivered"' in call("lookup_order", order_id="A2")
    with pytest.raises(ToolInputError, match="no order 'Z9'"):
        call("lookup_order", order_id="Z9")
'''


def _order(n: int) -> dict[str, str]:
    """Order ``A{n}``: status cycles; ETAs in December 2026, ordered five days before shipping."""
    status = STATUSES[n % len(STATUSES)] if n < STATUS_TASKS else "shipped"
    shipped = date(2026, 11, 20) + timedelta(days=n % 9)
    return {
        "order_id": f"A{n}",
        "status": status,
        "ordered_on": (shipped - timedelta(days=5)).isoformat(),
        "carrier": CARRIERS[n % len(CARRIERS)],
        "tracking": f"TRK{1000 + n}",
        "shipped_on": shipped.isoformat(),
        "eta": (shipped + timedelta(days=3 + n % 4)).isoformat(),
    }


def _tasks() -> list[dict[str, object]]:
    tasks = []
    for n in range(ORDERS):
        order = _order(n)
        eta = n >= STATUS_TASKS
        tasks.append(
            {
                "id": f"o{n:02d}",
                "question": (
                    f"When is order {order['order_id']} expected to arrive? Give the date."
                    if eta
                    else f"What is the status of order {order['order_id']}?"
                ),
                "answer": order["eta"] if eta else order["status"],
                "task_type": "eta" if eta else "status",
                "min_tool_calls": 2 if eta else 1,
                "order_id": order["order_id"],
                "carrier": order["carrier"],
                "tracking": order["tracking"],
            }
        )
    return tasks


def _labels(tasks: list[dict[str, object]]) -> list[dict[str, object]]:
    """Answers judged by the rubric: right, near, wrong and hedged ones for each kind."""
    rows = []
    for task in tasks[:20]:
        answer = str(task["answer"])
        if task["task_type"] == "eta":
            day = date.fromisoformat(answer)
            rows += [
                (answer, 1.0),
                ((day + timedelta(days=1)).isoformat(), 0.75),
                ((day - timedelta(days=3)).isoformat(), 0.0),
                (f"{answer} or {(day + timedelta(days=1)).isoformat()}", 0.0),
            ]
        else:
            other = next(s for s in STATUSES if s != answer)
            rows += [(answer, 1.0), (f"The order is {answer}.", 1.0), (other, 0.0)]
    ids = [task["id"] for task in tasks[:20] for _ in range(4 if task["task_type"] == "eta" else 3)]
    return [
        {"task_id": t, "answer": a, "label": label, "labeller": "rftkit test fixture", "note": ""}
        for t, (a, label) in zip(ids, rows, strict=True)
    ]


def swap_in_order_task(root: Path, package: str) -> None:
    """Turn the generated project at ``root`` into the order assistant (see the module doc)."""
    data = root / "data"
    with sqlite3.connect(data / "orders.db") as db:
        db.execute("create table orders (order_id text primary key, status text, "
                   "ordered_on text, carrier text, tracking text)")  # fmt: skip
        db.execute(
            "create table shipments (carrier text, tracking text, shipped_on text, eta text)"
        )
        for n in range(ORDERS):
            o = _order(n)
            order = [o[key] for key in ("order_id", "status", "ordered_on", "carrier", "tracking")]
            db.execute("insert into orders values (?, ?, ?, ?, ?)", order)
            shipment = [o[key] for key in ("carrier", "tracking", "shipped_on", "eta")]
            db.execute("insert into shipments values (?, ?, ?, ?)", shipment)
    db.close()
    shutil.rmtree(root / "docs")
    pkg = root / package
    (pkg / "tools.py").write_text(TOOLS.format(package=package))
    (pkg / "solver.py").write_text(SOLVER)
    (pkg / "answer_grader.py").write_text(ANSWER_GRADER)
    dataset = (pkg / "dataset.py").read_text()
    dataset = re.sub(
        r"INSTRUCTIONS = \(.*?\n\)\n",
        'INSTRUCTIONS = (\n    "You answer questions about customer orders with the order tools. '
        'Reply with the status alone, or the date as YYYY-MM-DD."\n)\n',
        dataset,
        flags=re.DOTALL,
    )
    (pkg / "dataset.py").write_text(dataset)
    tasks = _tasks()
    (data / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    (data / "LABELS.md").write_text(LABELS_GUIDE)
    with (data / "example_labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["task_id", "answer", "label", "labeller", "note"])
        writer.writeheader()
        writer.writerows(_labels(tasks))
    (root / "tests" / "test_example.py").write_text(EXAMPLE_TESTS.format(package=package))


class AccessLog(logging.Handler):
    """The tool service's own access log lines (``rftkit.toolserver.access``), as it wrote them:
    what the tests count calls against, never the job's own report."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.entries: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(record.getMessage()))
