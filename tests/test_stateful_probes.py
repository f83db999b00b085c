"""Stored probes and call sequences on a stateful toolbox, over real HTTP on loopback.

``compute_refund`` refuses an order that was not looked up earlier in the same rollout (the same
``trace_id``), as a team's order assistant did (issue 30). A probe sent on its own is refused
whatever its arguments; a sequence replayed under one trace id passes the contract check and the
burst; a task that stores such a sequence passes preflight's tools row; every hint the checks
print names a flag the commands accept.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from rftkit.cli import build_parser
from rftkit.cli import main as rftkit_main
from rftkit.endpoints import check_endpoint, check_tools
from rftkit.endpoints.contract import MISTAKE_200  # noqa: F401  (the module whose hints we read)
from rftkit.jobs.preflight import preflight
from rftkit.protocol import FunctionSpanData, Span, Trace
from rftkit.rollouts.probes import probes_from_solver, probes_from_traces
from rftkit.rollouts.solver import Solution
from rftkit.serving import serve_in_background
from rftkit.task import ProbeCall, RFTTask, TaskTool
from rftkit.toolserver import create_app
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from rftkit.toolserver.resources import PerThread

TOKEN = "stateful-test-token-0123456789"
ORDERS = {"A7": 40.0, "B2": 12.5}

toolbox = Toolbox()


@toolbox.tool
def lookup_order(ctx: ToolContext, order_id: str) -> str:
    """Look an order up by its id.

    Args:
        order_id: The order's id, e.g. 'A7'.
    """
    row = (
        ctx.resources["db"]
        .execute("select total from orders where order_id = ?", (order_id,))
        .fetchone()
    )
    if row is None:
        raise ToolInputError(f"no order {order_id!r}", param="order_id", code="not_found")
    ctx.state.setdefault("looked_up", []).append(order_id)
    return json.dumps({"order_id": order_id, "total": row[0]})


@toolbox.tool
def compute_refund(ctx: ToolContext, order_id: str, percent: int) -> str:
    """The refund for part of an order, once it has been looked up in this conversation.

    Args:
        order_id: An order looked up earlier with lookup_order.
        percent: How much of the order to refund, 1 to 100.
    """
    if order_id not in ctx.state.get("looked_up", []):
        raise ToolInputError(f"look order {order_id!r} up first", param="order_id")
    if not 1 <= percent <= 100:
        raise ToolInputError("percent must be 1 to 100", param="percent")
    total = (
        ctx.resources["db"]
        .execute("select total from orders where order_id = ?", (order_id,))
        .fetchone()[0]
    )
    return f"{total * percent / 100:.2f}"


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, check_same_thread=False)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    path = tmp_path_factory.mktemp("orders") / "orders.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (order_id text primary key, total real)")
        db.executemany("insert into orders values (?, ?)", ORDERS.items())
    app = create_app(
        toolbox=toolbox, token=TOKEN, resources={"db": PerThread(lambda: _connect(str(path)))}
    )
    with serve_in_background(app) as url:
        yield url


def solve(line: dict) -> Solution:
    order = line["order_id"]
    calls = [("lookup_order", {"order_id": order})]
    calls.append(("compute_refund", {"order_id": order, "percent": line["percent"]}))
    return Solution(calls=calls, answer=line["reference_answer"])


LINES = [
    {"id": "r1", "order_id": "A7", "percent": 50, "reference_answer": "20.00"},
    {"id": "r2", "order_id": "B2", "percent": 100, "reference_answer": "12.50"},
]
SEQUENCE = [
    {"name": "lookup_order", "arguments": {"order_id": "A7"}},
    {"name": "compute_refund", "arguments": {"order_id": "A7", "percent": 50}},
]


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_a_single_probe_of_the_stateful_tool_is_refused(service):
    report = check_endpoint(
        service,
        headers=_headers(),
        examples={"lookup_order": {"order_id": "A7"}, "compute_refund": SEQUENCE[1]["arguments"]},
        rollouts=10,
        calls=1,
    )
    assert not report.ready
    refused = [
        r for r in report.contract if r.name == "valid call" and r.target == "compute_refund"
    ]
    assert refused[0].outcome == "blocker" and "look order 'A7' up first" in refused[0].got
    assert report.burst.valid_calls_4xx == 5  # the five rollouts whose one call is the refund


def test_a_sequence_under_one_trace_id_passes_the_contract_and_the_burst(service):
    report = check_endpoint(service, headers=_headers(), sequences=[SEQUENCE], rollouts=12)
    assert report.ready, report.text()
    (refund,) = [
        r for r in report.contract if r.name == "valid call" and r.target == "compute_refund"
    ]
    assert refund.outcome == "pass" and "'20.00'" in refund.got
    assert "after lookup_order" in refund.expected
    burst = report.burst
    assert burst.valid_calls_4xx == 0 and not burst.discarded and not burst.violations
    # Every rollout replayed the two calls in order under its own trace id, as on the wire.
    assert len(burst.attempts) == 24 and burst.calls_per_rollout == 2
    assert {a.tool for a in burst.attempts if a.call == a.rollout} == {
        "lookup_order",
        "compute_refund",
    }
    assert burst.trace_log_checked == 12


def test_a_sequence_whose_earlier_call_fails_says_so(service):
    broken = [{"name": "lookup_order", "arguments": {"order_id": "Z9"}}, SEQUENCE[1]]
    report = check_endpoint(service, headers=_headers(), sequences=[broken], rollouts=0)
    (refund,) = [
        r for r in report.contract if r.name == "valid call" and r.target == "compute_refund"
    ]
    assert refund.outcome == "blocker" and "no order 'Z9'" in refund.got
    assert "needs first in the rollout" in refund.why
    with pytest.raises(ValueError, match=r"sequence #0 calls refund_all, not a job tool"):
        check_tools(
            [{"name": "lookup_order", "server_url": f"{service}/call", "headers": _headers()}],
            sequences=[[{"name": "refund_all", "arguments": {}}]],
        )


def test_the_cli_takes_sequences_and_a_tasks_stored_probes(service, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RFTKIT_TOOL_TOKEN", TOKEN)
    base = ["endpoints", "check", service, "--rollouts", "5"]
    single = f"compute_refund={json.dumps(SEQUENCE[1]['arguments'])}"
    assert (
        rftkit_main([*base, "--probe", 'lookup_order={"order_id": "A7"}', "--probe", single]) == 1
    )
    assert rftkit_main([*base, "--sequence", json.dumps(SEQUENCE)]) == 0
    task = _task(tmp_path, service)
    assert rftkit_main([*base, "--probes-from", str(task.save(tmp_path / "task.json"))]) == 0
    assert rftkit_main([*base, "--sequence", '[{"name": "lookup_order"}, 3]']) == 2
    assert "--sequence #0, call 1" in capsys.readouterr().err


def _task(folder, url: str, probes=None) -> RFTTask:
    specs = toolbox.specs()
    valid = [{"id": "v1", "order_id": "B2", "percent": 10, "reference_answer": "1.25"}]
    for name, split in (("train.jsonl", LINES), ("valid.jsonl", valid)):
        rows = [
            {
                "messages": [
                    {"role": "user", "content": f"Refund {x['percent']}% of {x['order_id']}"}
                ],
                "tools": specs,
                **x,
            }
            for x in split
        ]
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    headers = {"Authorization": "Bearer ${RFTKIT_TOOL_TOKEN}"}
    return RFTTask.in_folder(
        folder,
        name="refunds",
        training_file="train.jsonl",
        validation_file="valid.jsonl",
        grader={
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "operation": "eq",
        },
        tools=[TaskTool(name=n, server_url=f"{url}/call", headers=headers) for n in toolbox.names],
        probes=probes_from_solver(solve, LINES) if probes is None else probes,
    )


def test_stored_probes_come_from_the_solver_and_survive_the_task_file(tmp_path, service):
    task = _task(tmp_path, service)
    assert task.probes == [[ProbeCall(**c) for c in SEQUENCE]]  # one scenario covers both tools
    loaded = RFTTask.load(task.save(tmp_path / "task.json"))
    assert loaded.probes == task.probes
    bare = task.model_copy(update={"probes": []})
    assert loaded.content_hash() == bare.content_hash()  # probes do not change the job
    assert "probes" not in json.loads(bare.save(tmp_path / "bare.json").read_text())
    with pytest.raises(ValueError, match=r"probes\[0\] calls refund_all, not among"):
        RFTTask.in_folder(tmp_path, **{**task.model_dump(), "probes": [[{"name": "refund_all"}]]})
    with pytest.raises(ValueError, match=r"probes\[0\], call 0: arguments"):
        RFTTask.in_folder(
            tmp_path,
            **{**task.model_dump(), "probes": [[{"name": "lookup_order", "arguments": 1}]]},
        )


def test_preflight_passes_on_the_stateful_toolbox_with_stored_probes(tmp_path, service):
    env = {"RFTKIT_TOOL_TOKEN": TOKEN}
    task = _task(tmp_path, service)
    report = preflight(task, "local", env=env, readiness_rollouts=8)
    tools = [row for row in report.rows if row["check"] == "tools"]
    assert [row["result"] for row in tools] == ["ok"], tools
    assert report.ok, report.render()
    # Without stored probes the refund is probed alone (made-up or given arguments): not ok.
    bare = task.model_copy(update={"probes": []})
    unprobed = preflight(bare, "local", env=env, readiness_rollouts=8)
    assert [r["result"] for r in unprobed.rows if r["check"] == "tools"] != ["ok"]
    given = preflight(
        bare,
        "local",
        env=env,
        readiness_rollouts=8,
        probes={"lookup_order": {"order_id": "A7"}, "compute_refund": SEQUENCE[1]["arguments"]},
    )
    assert any(r["result"] == "error" for r in given.rows if r["check"] == "tools")
    # A --sequence given to preflight does what the stored probes do.
    sequenced = preflight(bare, "local", env=env, readiness_rollouts=8, sequences=[SEQUENCE])
    assert [r["result"] for r in sequenced.rows if r["check"] == "tools"] == ["ok"]


def _trace(item_id: str, calls: list[tuple[str, dict, int]]) -> Trace:
    spans = [
        Span(
            trace_id="trace_x",
            span_id=f"s{i}",
            started_at=0.0,
            ended_at=0.1,
            span_data=FunctionSpanData(name=name, input=json.dumps(args), status_code=status),
        )
        for i, (name, args, status) in enumerate(calls)
    ]
    return Trace(trace_id="trace_x", item_id=item_id, policy="p", status="completed",
                 started_at=0.0, ended_at=1.0, spans=spans)  # fmt: skip


def test_a_baselines_successful_calls_become_probes_in_order():
    traces = [
        _trace("r1", [("compute_refund", {"order_id": "A7", "percent": 50}, 400),
                      ("lookup_order", {"order_id": "A7"}, 200),
                      ("compute_refund", {"order_id": "A7", "percent": 50}, 200)]),
        _trace("r2", [("lookup_order", {"order_id": "B2"}, 200)]),  # adds no tool: left out
    ]  # fmt: skip
    assert probes_from_traces(traces) == [[ProbeCall(**c) for c in SEQUENCE]]


def test_every_hint_names_a_flag_the_commands_accept():
    import inspect

    import rftkit.endpoints as endpoints
    import rftkit.endpoints.contract as contract
    import rftkit.endpoints.examples as examples

    hinted = set()
    for module in (endpoints, contract, examples):
        for flag in ("--probe", "--sequence", "--probes-from", "--tools-from"):
            if flag + " " in inspect.getsource(module) or flag + ")" in inspect.getsource(module):
                hinted.add(flag)
    assert "--probe" in hinted
    parser = build_parser()
    values = {
        "--probe": 'lookup_order={"order_id": "A7"}',
        "--sequence": json.dumps(SEQUENCE),
        "--probes-from": "task.json",
        "--tools-from": "specs.json",
    }
    commands = [["endpoints", "check", "http://127.0.0.1:1"], ["jobs", "preflight"],
                ["jobs", "launch"]]  # fmt: skip
    for flag in hinted:
        accepting = []
        for command in commands:
            try:
                parser.parse_args([*command, flag, values[flag]])
                accepting.append(command[:2])
            except SystemExit:
                continue
        assert accepting, f"{flag} is hinted but no command takes it"
    for command in commands:  # the hint every check prints: --probe NAME='{...}'
        args = parser.parse_args([*command, "--probe", values["--probe"]])
        assert args.probe == [values["--probe"]]
    for command in commands:
        args = parser.parse_args([*command, "--sequence", values["--sequence"]])
        assert json.loads(args.sequence[0]) == SEQUENCE


def test_jobs_preflight_takes_probe_and_sequence(tmp_path, service, monkeypatch, capsys):
    monkeypatch.setenv("RFTKIT_TOOL_TOKEN", TOKEN)
    bare = _task(tmp_path, service, probes=[]).save(tmp_path / "task.json")
    base = ["jobs", "preflight", "--task", str(bare), "--rollouts", "4"]
    single = f"compute_refund={json.dumps(SEQUENCE[1]['arguments'])}"
    assert (
        rftkit_main([*base, "--probe", 'lookup_order={"order_id": "A7"}', "--probe", single]) == 1
    )
    assert "look order 'A7' up first" in capsys.readouterr().out
    assert rftkit_main([*base, "--sequence", json.dumps(SEQUENCE)]) == 0
    assert "2 tool(s) passed the contract and a burst" in capsys.readouterr().out
    assert rftkit_main([*base, "--probe", "compute_refund"]) == 2
    assert "--probe 'compute_refund': expected NAME=" in capsys.readouterr().err
    # TRL's preflight calls no tool: the options are refused rather than silently ignored.
    assert rftkit_main([*base, "--backend", "trl-modal", "--sequence", json.dumps(SEQUENCE)]) == 2
    assert "the trl-modal preflight does not call the tools" in capsys.readouterr().err


STATEFUL_TOOLS = '''"""Two tools whose second needs the first earlier in the same rollout."""

from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError

toolbox = Toolbox()


@toolbox.tool
def lookup_order(ctx: ToolContext, order_id: str) -> str:
    """Look an order up.

    Args:
        order_id: The order's id.
    """
    ctx.state.setdefault("looked_up", []).append(order_id)
    return "order " + order_id


@toolbox.tool
def compute_refund(ctx: ToolContext, order_id: str) -> str:
    """The refund of an order looked up before.

    Args:
        order_id: The order's id.
    """
    if order_id not in ctx.state.get("looked_up", []):
        raise ToolInputError("look order " + order_id + " up first", param="order_id")
    return "refund 20.00"


def load_docs():
    return None


def resources():
    return {}
'''

IN_PROCESS = """
from rftkit.toolserver.registry import ToolInputError
from refund_desk.service import call_in_process, rollout_in_process

def said(run):
    try:
        return run()
    except ToolInputError as exc:
        return "refused: " + str(exc)

refund = ("compute_refund", {"order_id": "A7"})
print("alone:", said(lambda: call_in_process(*refund)))
print("rollout:", rollout_in_process([("lookup_order", {"order_id": "A7"}), refund]))
call_in_process("lookup_order", {"order_id": "A7"}, trace_id="t1")
print("same trace:", said(lambda: call_in_process(*refund, trace_id="t1")))
print("other trace:", said(lambda: call_in_process(*refund, trace_id="t2")))
"""


def test_the_templates_call_in_process_keeps_state_per_rollout(tmp_path):
    """The generated project's in-process call helper: state per trace id, as on the wire."""
    from commands import run_python

    from rftkit.scaffold import create_project

    root = tmp_path / "refund-desk"
    create_project(root)
    (root / "refund_desk" / "tools.py").write_text(STATEFUL_TOOLS)
    done = run_python(root, "-c", IN_PROCESS, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "alone: refused: look order A7 up first",
        "rollout: ('order A7', 'refund 20.00')",
        "same trace: refund 20.00",
        "other trace: refused: look order A7 up first",
    ]


def test_a_task_without_probes_prints_as_before(tmp_path, service):
    task = _task(tmp_path, service)
    assert "probes=[[ProbeCall(name='lookup_order'" in repr(task)
    bare = task.model_copy(update={"probes": []})
    assert "probes=" not in repr(bare) and repr(bare).endswith("platform=None)")
