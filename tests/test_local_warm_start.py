"""A team's own task trains on the local backend: a project made by ``rftkit new`` with the SQLite
order toolbox swapped in (``tests/order_project.py``), its tools served on loopback by the
project's own service, and a local job warm-started from the project's reference solver.

Checked against the service's own access log (``rftkit.toolserver.access``, one line per call):
calls arrive, one trace id per rollout, and the job's closing count equals the log's. Held-out
accuracy is measured through the same service for the untrained model, the warm-started one and
the GRPO-trained one; the figures are printed (``pytest -s``) with their n and SE, and only the
direction that holds by a wide margin is asserted."""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
import time
from collections import Counter

import pytest
from order_project import AccessLog

from rftkit.cli import main
from rftkit.jobs import launch
from rftkit.local.tokenizer import Tokenizer
from rftkit.local.warmstart import (
    WarmStartConfig,
    WarmStartError,
    held_out_accuracy,
    load_solver,
    new_model,
)
from rftkit.serving import serve_in_background
from rftkit.toolserver.app import ACCESS_LOG

PACKAGE = "order_assistant"
TOKEN = "order-tools-token"
GRPO = {"steps": 3, "tasks_per_step": 6, "group_size": 4, "triage_repeats": 3,
        "eval_interval": 3, "valid_repeats": 2}  # fmt: skip
REPEATS = 4  # rollouts per validation line for the before/after figures



@pytest.fixture(scope="module")
def order_project(tmp_path_factory):
    """``rftkit new order-assistant`` with the order task swapped in, importable here."""
    from tests.order_project import swap_in_order_task

    root = tmp_path_factory.mktemp("projects") / "order-assistant"
    assert main(["new", str(root)]) == 0
    swap_in_order_task(root, PACKAGE)
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def run(order_project, tmp_path_factory):
    """Serve the project's tools, launch the warm-started local job, then measure."""
    task_module = importlib.import_module(f"{PACKAGE}.task")
    service = importlib.import_module(f"{PACKAGE}.service")
    log, logger = AccessLog(), logging.getLogger(ACCESS_LOG)
    logger.addHandler(log)
    level = logger.level
    logger.setLevel(logging.INFO)
    env = {"RFTKIT_TOOL_TOKEN": TOKEN}
    try:
        with serve_in_background(service.create_service(token=TOKEN)) as url:
            task_module.write_task(order_project / "build", url)
            task = task_module.project_task(order_project / "build", url)
            started = time.perf_counter()
            job = launch("local", task, env=env, grpo=GRPO, skip_preflight=True,
                         warm_start=f"{PACKAGE}.solver:solve",
                         out_dir=tmp_path_factory.mktemp("job"))  # fmt: skip
            status = job.wait(timeout=600)
            seconds = time.perf_counter() - started
            job_entries = list(log.entries)
            tools, grader = task.job_tools(env), task.resolved_grader(env)
            valid = task.items("validation")
            trainer = job.trainer
            config = job.warm_start_config
            untrained = new_model(trainer.tokenizer, config)
            figures = {
                name: held_out_accuracy(model, trainer.tokenizer, valid, tools, grader,
                                        repeats=REPEATS, seed=1)
                for name, model in (("untrained", untrained), ("warm start", trainer.reference),
                                    ("after GRPO", trainer.model))
            }  # fmt: skip
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)
    print(f"\nlocal job {status} in {seconds:.0f} s; held-out accuracy ({REPEATS} rollouts/line):")
    for name, accuracy in figures.items():
        print(f"  {name:>10}: {accuracy}")
    return job, status, job_entries, figures


def test_the_job_warm_starts_and_trains_against_the_teams_service(run):
    job, status, entries, _ = run
    assert status == "succeeded", job.error
    assert job.as_job()["fine_tuned_model"].startswith("ft:rftkit-tinylm-warmstart:local:")
    messages = [e["message"] for e in job.events()]
    assert messages[0].startswith("Rehearsal of the hosted job")
    assert "warm-started from the task's reference solver in its place" in messages[1]
    assert not any("not a course-world task" in m for m in messages)
    warm = next(m for m in messages if m.startswith("Warm start: the reference solver"))
    assert "18 transcripts the grader marked correct were kept" in warm
    assert any(m.startswith("Learnability triage") for m in messages)
    assert [e["data"]["step"] for e in job.events() if e["type"] == "metrics"] == [1, 2, 3]
    assert "GRPO after the warm start: lr 1.0e-04, KL coefficient 0.2" in messages[0]
    assert (job.config.lr, job.config.kl_coef) == (1e-4, 0.2)  # GRPO settings not given
    # The job compares GRPO with the warm start on validation and names the one to keep.
    verdict = next(m for m in messages if m.startswith("Validation accuracy: warm start"))
    assert "(12 lines, 2 rollouts each)" in verdict
    assert "GRPO raised it" in verdict or "step-0.pt) is at least as good" in verdict
    assert (job.out_dir / "checkpoints" / "step-0.pt").is_file()


def test_calls_reach_the_service_one_trace_per_rollout_and_the_counts_agree(run):
    job, _, entries, _ = run
    assert entries, "no request reached the team's service"
    tools = Counter(e["tool"] for e in entries)
    assert tools["lookup_order"] > 0 and tools["get_shipping_eta"] > 0
    # The solver's 18 rollouts: one trace id each, one lookup per line, a second call for ETAs.
    solver_entries = entries[:26]
    per_trace = Counter(e["trace_id"] for e in solver_entries)
    assert len(per_trace) == 18 and set(per_trace.values()) == {1, 2}
    # Every rollout has its own trace id: no trace id holds more calls than max_episode_steps.
    assert max(Counter(e["trace_id"] for e in entries).values()) <= 10
    closing = next(
        e["message"] for e in reversed(job.events())
        if e["message"].startswith("Tool requests that reached the task's tool URLs")
    )  # fmt: skip
    counted = int(re.search(r"URLs: (\d+)", closing).group(1))
    assert counted == len(entries) == job.trainer.requests_reached()
    phases = dict(re.findall(r"([a-z -]+) (\d+)", closing.split("(", 1)[1]))
    assert {p.strip() for p in phases} >= {"warm start", "triage", "training", "validation"}


def test_held_out_accuracy_rises_from_the_untrained_model(run):
    _, _, _, figures = run
    assert all(a.lines == 12 and a.rollouts == 12 * REPEATS for a in figures.values())
    untrained, warm, trained = figures["untrained"], figures["warm start"], figures["after GRPO"]
    assert untrained.mean == 0.0  # a random model does not even call a tool properly
    # Seeded; measured at 0.35 or more for the warm start: far above 0 by many SEs.
    assert warm.mean > untrained.mean + 3 * warm.se
    assert trained.mean > untrained.mean + 3 * trained.se


def test_a_solver_that_is_not_there_is_named():
    with pytest.raises(WarmStartError, match="module:function"):
        load_solver("order_assistant.solver")
    with pytest.raises(WarmStartError, match="cannot import no_such_project"):
        load_solver("no_such_project.solver:solve")
    with pytest.raises(WarmStartError, match="has no function 'nope'"):
        load_solver("json:nope")


def test_a_warm_start_from_a_solver_whose_calls_fail_stops_with_the_reason(
    order_project, tmp_path
):
    """A solver whose answers the grader never accepts gives no transcript: the job fails with
    that reason, not a model trained on nothing."""
    task_module = importlib.import_module(f"{PACKAGE}.task")
    service = importlib.import_module(f"{PACKAGE}.service")
    from rftkit.rollouts.solver import Solution

    def wrong(line):
        return Solution(calls=[("lookup_order", {"order_id": line["order_id"]})], answer="never")

    with serve_in_background(service.create_service(token=TOKEN)) as url:
        task = task_module.project_task(order_project / "build", url)
        task_module.write_task(order_project / "build", url)
        job = launch("local", task, env={"RFTKIT_TOOL_TOKEN": TOKEN}, grpo=GRPO,
                     skip_preflight=True, warm_start=wrong, out_dir=tmp_path,
                     warm_start_config=WarmStartConfig(steps=5))  # fmt: skip
        assert job.wait(timeout=120) == "failed"
    assert "gave no transcript the grader marked correct" in job.error
    closing = job.events()[-2]["message"]
    assert closing.startswith("Tool requests that reached the task's tool URLs: 18 (warm start 18)")


def test_only_requests_a_tool_url_answered_are_counted():
    """Counted where sent: each attempt the URL answered (retries too), not a call refused before
    sending (unknown tool, bad arguments) nor one sent where nobody listens."""
    from rollout_fakes import EndpointLog, TurnsPolicy, fake_tool_app, item, job_tools

    from rftkit.rollouts import run_rollouts_sync

    log = EndpointLog()
    turns = [[("flaky", {"fail_times": 2}), ("echo", {"text": "a"}), ("nowhere", {}),
              ("missing", {})]]  # fmt: skip
    grader = {"type": "string_check", "name": "g", "input": "{{sample.output_text}}",
              "reference": "x", "operation": "eq"}  # fmt: skip
    reached: Counter[str] = Counter()
    with serve_in_background(fake_tool_app(log)) as url:
        tools = [*job_tools(url, names=("flaky", "echo")),
                 {"name": "nowhere", "server_url": "http://127.0.0.1:9/call"}]  # fmt: skip
        run_rollouts_sync([item()], TurnsPolicy(turns), tools=tools, grader=grader,
                          retry_backoff=0.0, reached=reached, progress=False)  # fmt: skip
    assert len(log.calls) == 4  # flaky: 2 failures + 1 success; echo: 1
    assert reached == Counter({"flaky": 3, "echo": 1})


def test_words_the_solver_copied_into_its_calls_are_slots():
    """A query made of the question's words and a carrier read off a record are copied, so the
    task tokenizer makes them slots; a word the solver wrote unprompted stays vocabulary."""
    from rftkit.local.tokenizer import SlotTable
    from rftkit.local.warmstart import copied_words, task_tokenizer

    conversation = [
        {"role": "user", "content": "How many seats does the Business plan include?"},
        {"type": "function_call", "name": "search_docs", "call_id": "c1",
         "arguments": json.dumps({"query": "seats Business plan", "mode": "exact"})},
        {"type": "function_call_output", "call_id": "c1", "output": '{"carrier": "ups"}'},
        {"type": "function_call", "name": "track", "call_id": "c2",
         "arguments": json.dumps({"carrier": "ups", "mode": "exact"})},
        {"role": "assistant", "content": "50"},
    ]  # fmt: skip
    assert copied_words(conversation) == {"seats", "business", "plan", "ups"}
    tokenizer = task_tokenizer([conversation], [])
    ids = tokenizer.encode("seats mode", SlotTable())
    assert Tokenizer.is_slot(ids[0]) and not Tokenizer.is_slot(ids[-1])
    assert "mode" in tokenizer.vocab and "seats" not in tokenizer.vocab


def test_a_number_the_solver_passes_unread_is_vocabulary_and_a_copied_one_a_slot():
    """``top_k: 5`` (never read, so nothing to copy it from) becomes a word the model can write;
    order 'A7', read off the question and passed on, stays a slot; so does a figure in an output.
    """
    from rftkit.local.tokenizer import SlotTable
    from rftkit.local.warmstart import call_numbers, task_tokenizer

    conversation = [
        {"role": "user", "content": "Where is order A7?"},
        {"type": "function_call", "name": "lookup", "call_id": "c1",
         "arguments": json.dumps({"order_id": "A7", "top_k": 5})},
        {"type": "function_call_output", "call_id": "c1", "output": "A7: 12 items"},
        {"role": "assistant", "content": "12"},
    ]  # fmt: skip
    assert call_numbers(conversation) == ({"5"}, {"7"})
    tokenizer = task_tokenizer([conversation], [])
    assert "5" in tokenizer.vocab and "7" not in tokenizer.vocab and "12" not in tokenizer.vocab
    slots = SlotTable()
    text = '{"top_k": 5} A7 12'
    ids = tokenizer.encode(text, slots)
    assert slots.strings == ["A", "7", "12"] and tokenizer.decode(ids, slots) == text
    again = Tokenizer.from_state_dict(tokenizer.state_dict())
    assert again.vocab == tokenizer.vocab and not again.small_integers


def test_a_task_tokenizer_makes_every_number_a_slot_and_survives_a_checkpoint():
    from rftkit.local.tokenizer import SlotTable

    tokenizer = Tokenizer.build(["order A7 is held", "order A27"], small_integers=False)
    slots = SlotTable()
    ids = tokenizer.encode("order A7", slots)
    assert Tokenizer.is_slot(ids[-1]) and slots.strings == ["7"]
    assert tokenizer.decode(ids, slots) == "order A7"
    again = Tokenizer.from_state_dict(tokenizer.state_dict())
    assert again.vocab == tokenizer.vocab and not again.small_integers
    course_like = Tokenizer.build(["order A7"])
    assert Tokenizer.from_state_dict(course_like.state_dict()).small_integers
    assert not Tokenizer.is_slot(course_like.encode("A7", SlotTable())[-1])


def test_the_cli_refuses_a_warm_start_it_cannot_use_before_any_check(order_project, capsys):
    task_module = importlib.import_module(f"{PACKAGE}.task")
    path = task_module.write_task(order_project / "build", "http://127.0.0.1:9")
    base = ["jobs", "launch", "--task", str(path)]
    assert main([*base, "--backend", "openai", "--warm-start", f"{PACKAGE}.solver:solve"]) == 2
    assert "--warm-start is for the local backend, not openai" in capsys.readouterr().err
    assert main([*base, "--backend", "local", "--warm-start", "no_such_project.solver:solve"]) == 2
    err = capsys.readouterr()
    assert "cannot import no_such_project" in err.err and "preflight" not in err.out


def test_a_cancel_during_the_warm_start_stops_it_and_still_counts_the_traffic(
    order_project, tmp_path
):
    task_module = importlib.import_module(f"{PACKAGE}.task")
    service = importlib.import_module(f"{PACKAGE}.service")
    with serve_in_background(service.create_service(token=TOKEN)) as url:
        task_module.write_task(order_project / "build", url)
        task = task_module.project_task(order_project / "build", url)
        job = launch("local", task, env={"RFTKIT_TOOL_TOKEN": TOKEN}, grpo=GRPO,
                     skip_preflight=True, warm_start=f"{PACKAGE}.solver:solve", out_dir=tmp_path,
                     warm_start_config=WarmStartConfig(steps=100_000))  # fmt: skip
        deadline = time.monotonic() + 60
        while not job.trainer.requests.get("warm start") and time.monotonic() < deadline:
            time.sleep(0.05)  # the solver's calls are under way or done: then cancel
        started = time.monotonic()
        assert job.cancel(wait=60).status == "cancelled"
        assert time.monotonic() - started < 30
    messages = [e["message"] for e in job.events()]
    assert messages[-1] == "Job cancelled after 0 step(s) (stopped during the warm start)"
    assert not any(m.startswith("Warm start: the reference solver") for m in messages)
    assert messages[-2].startswith("Tool requests that reached the task's tool URLs: ")
    assert job.trainer.step == 0 and not job.checkpoints()
