"""The readiness tester passes a healthy service and finds each fault of a broken one."""

import asyncio
import json
import time

import pytest

from rftkit.cli import main
from rftkit.course.world import generate_world, write_corpus
from rftkit.endpoints import CALCULATOR_PROBE, check_endpoint
from rftkit.endpoints.burst import call_steps
from rftkit.serving import serve_in_background
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.registry import Toolbox, ToolContext
from rftkit.toolserver.state import InMemoryStateStore
from tools_service.app import create_app
from tools_service.tools import calculator, toolbox

TOKEN = "endpoint-test-token-42"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("compact")
    write_corpus(generate_world(seed=0), root, style="compact")
    return Corpus.load(root)


class LeakyStore(InMemoryStateStore):
    """A classic bug: state keyed by something other than the rollout (here, one shared key)."""

    def lock(self, trace_id):
        return super().lock("shared")

    async def load(self, trace_id):
        return await super().load("shared")

    async def peek(self, trace_id):
        return await super().peek("shared")


class FailUnderBurst:
    """ASGI wrapper answering 503 while more than ``capacity`` requests are in flight."""

    def __init__(self, app, capacity: int = 2, hold_seconds: float = 0.03):
        self.app, self.capacity, self.hold, self.in_flight = app, capacity, hold_seconds, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        self.in_flight += 1
        try:
            if self.in_flight > self.capacity:
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"overloaded"})
                return
            await asyncio.sleep(self.hold)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def slow_toolbox(seconds: float) -> Toolbox:
    """The course's tools with a calculator that takes ``seconds`` to answer."""
    box = Toolbox()
    for tool in toolbox:
        if tool.name != "calculator":
            box.tool(tool.function)

    @box.tool
    def calculator(expression: str) -> str:  # noqa: F811 - the slow twin, same name and schema
        """Evaluate arithmetic exactly, slowly.

        Args:
            expression: The arithmetic to evaluate, e.g. '4134.9 - 4043.9'.
        """
        time.sleep(seconds)
        return _calculator(expression)

    return box


_calculator = calculator


def test_call_steps_start_alone_then_go_parallel():
    assert call_steps(5, 2) == [[0], [1, 2], [3, 4]]
    assert call_steps(1, 3) == [[0]]


def test_a_healthy_service_is_ready_with_probes_from_its_own_tools(corpus):
    with serve_in_background(create_app(corpus, token=TOKEN)) as url:
        report = check_endpoint(url, TOKEN, rollouts=20, calls=4)
    assert report.ready and report.blockers == []
    outcomes = report.contract_table().groupby("result")["tool"].apply(set).to_dict()
    # Made-up arguments: no file "example", no arithmetic in "example" — refused, rightly.
    assert outcomes["note"] == {"read_file", "calculator"}
    assert set(report.contract_table()["tool"]) >= {"search", "list_files"}
    summary = report.burst_summary()
    assert summary["requests"] == 80 and summary["status counts"] == "200: 40, 400: 20, 404: 20"
    assert summary["rollouts discarded"] == summary["isolation violations"] == 0
    assert summary["4xx on generated example calls"] == 40
    assert summary["trace logs checked"] == 20
    assert len(report.notes) == 3  # the two refused examples, and their 4xx count in the burst
    assert "READY" in report.text().splitlines() and "NOTES (3)" in report.text()
    assert TOKEN not in report.text() and TOKEN not in repr(report)


def test_given_examples_and_known_answers_leave_no_notes(corpus):
    a_file = sorted(corpus.files)[0]
    with serve_in_background(create_app(corpus, token=TOKEN)) as url:
        report = check_endpoint(
            url,
            TOKEN,
            examples={"read_file": {"path": a_file}},
            probe=CALCULATOR_PROBE,
            rollouts=12,
            calls=4,
        )
    assert report.ready and report.notes == [], report.notes
    assert set(report.contract_table()["result"]) == {"pass"}
    assert report.burst_summary()["status counts"] == "200: 48"
    assert "calculator" in report.contract_table().query("check == 'valid call'")["tool"].tolist()


def test_a_refused_given_example_is_a_blocker(corpus):
    with serve_in_background(create_app(corpus, token=TOKEN)) as url:
        report = check_endpoint(
            url, TOKEN, examples={"read_file": {"path": "no/such.md"}}, rollouts=4, calls=4
        )
    assert not report.ready
    assert any("read_file: valid call: got 404" in b for b in report.blockers)
    assert any("given as valid were answered 4xx" in b for b in report.blockers)


def test_it_finds_a_state_store_that_leaks_between_rollouts(corpus):
    app = create_app(corpus, token=TOKEN, store=LeakyStore())
    with serve_in_background(app) as url:
        report = check_endpoint(url, TOKEN, rollouts=10, calls=3)
    assert report.burst_summary()["isolation violations"] == 10
    assert "foreign call" in report.burst.violations[0]
    assert not report.ready and report.failures() == report.blockers
    assert any(b.startswith("burst: 10 crossed") for b in report.blockers)
    # The contract sees it too: the replay check's trace log holds other checks' calls.
    crossed = report.contract_table().query("check == 'trace log' and result == 'BLOCKER'")
    assert len(crossed) >= 1


def test_it_finds_5xx_under_a_burst_and_counts_discarded_rollouts(corpus):
    app = FailUnderBurst(create_app(corpus, token=TOKEN))
    with serve_in_background(app) as url:
        report = check_endpoint(url, TOKEN, rollouts=30, calls=4, parallel=2)
    summary = report.burst_summary()
    assert "503" in summary["status counts"] and summary["calls retried"] > 0
    assert summary["rollouts discarded"] > 0
    assert "HTTP 503 on 4 attempts" in " ".join(report.blockers)
    assert not report.ready


def test_it_finds_a_slow_tool_by_latency_and_by_timeouts(corpus):
    app = create_app(corpus, token=TOKEN, toolbox=slow_toolbox(0.3), run_tools_in_threads=True)
    spec = [s for s in toolbox.specs() if s["function"]["name"] == "calculator"]
    calculator_only = {"tools": spec, "probe": CALCULATOR_PROBE}
    with serve_in_background(app) as url:
        slow = check_endpoint(url, TOKEN, rollouts=4, calls=2, p99_budget_ms=150, **calculator_only)
        # Every attempt times out before the first one finishes, so the cache cannot save it.
        timing_out = check_endpoint(
            url, TOKEN, rollouts=2, calls=1, timeout=0.02, retry_backoff=0.01, **calculator_only
        )
    # Slow is a note (steps wait); timing out is a blocker (the trainer discards the rollout).
    assert slow.burst_summary()["rollouts discarded"] == 0 and slow.ready
    assert any("p99 latency" in note for note in slow.notes)
    assert timing_out.burst_summary()["rollouts discarded"] == 2
    assert "timeout on 4 attempts" in " ".join(timing_out.blockers)
    assert "no response: ReadTimeout" in timing_out.contract_table()["got"].tolist()


def test_the_plot_shows_latency_and_status(corpus):
    with serve_in_background(create_app(corpus, allow_no_auth=True)) as url:
        report = check_endpoint(url, rollouts=5, calls=2)
    figure = report.plot()
    assert [ax.get_title() for ax in figure.axes] == [
        "latency per request",
        "latency during the burst",
    ]
    skipped = report.contract_table().query("result == 'skip'")["check"]
    assert set(skipped) == {"no headers", "wrong header values", "object arguments"}
    # a budget far beyond every request is named in the legend, not drawn: the histogram keeps
    # its axis instead of a sliver of one that runs out to the budget
    histogram = figure.axes[0]
    slowest = max(a.latency_ms for a in report.burst.attempts)
    assert report.p99_budget_ms > 1.5 * slowest
    assert histogram.get_xlim()[1] < 1.5 * slowest
    legend = [t.get_text() for t in histogram.get_legend().get_texts()]
    assert any(t.startswith(f"p99 budget {report.p99_budget_ms:.0f} ms") for t in legend)


def test_cli_exit_status_and_no_token_in_output(corpus, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MY_TOOL_TOKEN", TOKEN)
    with serve_in_background(create_app(corpus, token=TOKEN)) as url:
        ready = main(
            [
                "endpoints",
                "check",
                url,
                "--token-env",
                "MY_TOOL_TOKEN",
                "--rollouts",
                "5",
                "--calls",
                "2",
                "--plot",
                str(tmp_path / "p.png"),
            ]
        )
        out = capsys.readouterr().out
        not_ready = main(
            ["endpoints", "check", url, "--token-env", "UNSET_VAR_X", "--rollouts", "0"]
        )
        refused = capsys.readouterr().out
    assert ready == 0 and "READY" in out.splitlines()
    assert "headers: Authorization (bearer token from $MY_TOOL_TOKEN)" in out
    assert (tmp_path / "p.png").stat().st_size > 0
    assert TOKEN not in out
    # Without the token even GET /tools is refused: nothing to probe, a blocker that says why.
    assert not_ready == 1 and "NOT READY" in refused and "answered 401" in refused


def test_probe_bodies_are_valid_trainer_requests():
    from rftkit.protocol import FunctionCall

    body = CALCULATOR_PROBE.call(41, "trace_abc", call_id="call_x")
    parsed = FunctionCall.model_validate(body)
    assert json.loads(parsed.arguments) == {"expression": "41 + 1"}
    assert CALCULATOR_PROBE.expected(41) == "42"
    assert isinstance(ToolContext, type)


def test_the_tool_url_template_is_followed(corpus):
    with serve_in_background(create_app(corpus, token=TOKEN)) as url:
        wrong = check_endpoint(url, TOKEN, rollouts=0, tool_path="/{name}")
        shared = check_endpoint(url, TOKEN, rollouts=4, calls=4, tool_path="/call")
    valid_calls = wrong.contract_table().query("check == 'valid call'")
    assert valid_calls["got"].str.startswith("404").all()
    assert set(valid_calls["result"]) == {"BLOCKER"}  # a router's 404, not a tool's
    assert sum("no route answers POST" in b for b in wrong.blockers) == 4
    assert any("any tool answers" in b for b in wrong.blockers)
    assert shared.ready
    # One shared URL: the URL checks run once, for all four tools.
    assert shared.contract_table().query("check == 'unknown tool'")["tool"].tolist() == [
        "search, list_files, read_file, calculator"
    ]


def test_items_are_sent_as_the_trainer_sends_the_dataset_line(corpus, tmp_path, capsys):
    """A service that reads its world from the line refuses probes without one."""
    multi = create_app({0: corpus}, token=TOKEN)
    dataset = tmp_path / "train.jsonl"
    dataset.write_text('{"messages": [], "world_seed": 0}\n')
    with serve_in_background(multi) as url:
        without = check_endpoint(url, TOKEN, rollouts=0)
        with_items = check_endpoint(url, TOKEN, items=[{"world_seed": 0}], rollouts=4, calls=4)
        status = main(
            ["endpoints", "check", url, "--items-from", str(dataset), "--rollouts", "2"]
            + ["--header", f"Authorization: Bearer {TOKEN}"]
        )
    assert not without.ready and any("any tool answers" in b for b in without.blockers)
    assert "unknown_world" in " ".join(without.contract_table()["got"])
    assert with_items.ready, with_items.blockers
    assert status == 0 and "READY" in capsys.readouterr().out.splitlines()
