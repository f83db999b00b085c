"""Tools without documents: a database-backed toolbox served over real HTTP, with its connection
made once per worker thread and closed at shutdown, and no corpus anywhere."""

from __future__ import annotations

import sqlite3
import threading

import httpx
import pytest

from rftkit.serving import serve_in_background
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from rftkit.toolserver.resources import PerThread, Resources
from tools_service.app import create_app

TOKEN = "resources-test-token-not-secret"


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (order_id text primary key, status text)")
        db.executemany("insert into orders values (?, ?)", [("A1", "shipped"), ("B2", "held")])
    db.close()
    return path


def order_toolbox() -> Toolbox:
    toolbox = Toolbox()

    @toolbox.tool
    def lookup_order(ctx: ToolContext, order_id: str) -> str:
        """Look an order up by its id.

        Args:
            order_id: The order's id, e.g. 'A1'.
        """
        row = (
            ctx.resources["db"]
            .execute("select status from orders where order_id = ?", (order_id,))
            .fetchone()
        )
        if row is None:
            raise ToolInputError(f"no order {order_id!r}", param="order_id", code="not_found")
        return f"{order_id}: {row[0]} (thread {threading.get_ident()})"

    return toolbox


def call(url: str, n: int, order_id: str) -> httpx.Response:
    return httpx.post(
        f"{url}/call",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "type": "function_call",
            "call_id": f"call_{n}",
            "name": "lookup_order",
            "arguments": f'{{"order_id": "{order_id}"}}',
            "trace_id": f"trace_{n}",
        },
    )


@pytest.mark.parametrize("in_threads", [False, True])
def test_a_database_toolbox_serves_without_documents_and_reuses_its_connections(
    database, in_threads
):
    opened: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(database, check_same_thread=False)
        opened.append(connection)
        return connection

    db = PerThread(connect)
    app = create_app(
        toolbox=order_toolbox(),
        resources={"db": db},
        token=TOKEN,
        run_tools_in_threads=in_threads,
    )
    with serve_in_background(app) as url:
        assert httpx.get(f"{url}/healthz").json() == {
            "status": "ok",
            "tools": ["lookup_order"],
            "files": 0,
        }
        replies = [call(url, n, "A1") for n in range(30)]
        missing = call(url, 99, "Z9")
        threads = {r.json()["output"].split("thread ")[1] for r in replies}
    assert all(r.status_code == 200 for r in replies)
    assert replies[0].json()["output"].startswith("A1: shipped")
    assert missing.status_code == 404 and "no order 'Z9'" in missing.text
    # One connection per thread that ran a tool, not one per call.
    assert len(opened) == len(threads) < len(replies)
    # Closed at shutdown: a closed connection refuses work.
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("select 1")
    assert db.made == 0


def test_the_course_toolbox_without_a_corpus_is_refused_with_what_to_pass():
    with pytest.raises(ValueError, match="pass corpus_dir, or pass toolbox="):
        create_app(token=TOKEN)


def test_an_unknown_resource_names_what_the_service_has_and_reprs_hide_values():
    resources = Resources({"db": PerThread(lambda: "secret-dsn"), "api_key": "sk-not-shown"})
    with pytest.raises(KeyError, match="no resource 'cache'; the service was given: db, api_key"):
        resources["cache"]
    assert resources["db"] == "secret-dsn"
    assert "sk-not-shown" not in repr(resources) and "secret-dsn" not in repr(resources)
    assert "secret-dsn" not in repr(ToolContext(resources=resources))


def test_per_thread_makes_one_instance_per_thread():
    made = PerThread(object)
    seen = []
    workers = [threading.Thread(target=lambda: seen.append(made.get())) for _ in range(3)]
    for worker in workers:
        worker.start()
        worker.join()
    assert made.get() is made.get()
    assert made.made == 4 and len({id(x) for x in seen}) == 3
