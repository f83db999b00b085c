"""The state stores' own rules: TTL, locks, and the modal.Dict store's logic offline.

There is no Modal emulator, so the Dict store runs against ``DictStandIn``: an in-memory object
with the same ``get/put/pop`` ``.aio`` methods and the same ``skip_if_exists`` semantics as
``modal.Dict`` (modal 1.6.4, ``modal/dict.py``). Values are pickled on the way in and out, as
Modal does, so a store that relied on sharing live objects would fail here too.
"""

import asyncio
import json
import pickle

import httpx

from rftkit.course.world import generate_world, write_corpus
from rftkit.serving import serve_in_background
from rftkit.toolserver.state import InMemoryStateStore, ModalDictStateStore, TraceRecord
from tools_service.app import create_app


class _Method:
    def __init__(self, function):
        self._function = function

    async def aio(self, *args, **kwargs):
        await asyncio.sleep(0)  # a network round trip yields to the loop
        return self._function(*args, **kwargs)


class DictStandIn:
    """The subset of modal.Dict the store uses, pickling values like Modal does."""

    def __init__(self):
        self.data: dict = {}
        self.get = _Method(self._get)
        self.put = _Method(self._put)
        self.pop = _Method(self._pop)

    def _get(self, key, default=None):
        return pickle.loads(self.data[key]) if key in self.data else default

    def _put(self, key, value, *, skip_if_exists=False):
        if skip_if_exists and key in self.data:
            return False
        self.data[key] = pickle.dumps(value)
        return True

    def _pop(self, key, default=None):
        return pickle.loads(self.data.pop(key)) if key in self.data else default


def test_in_memory_store_sweeps_only_idle_unlocked_records():
    now = [0.0]
    store = InMemoryStateStore(ttl_seconds=10, clock=lambda: now[0])

    async def scenario():
        for trace in ("trace_a", "trace_b"):
            await store.save(await store.load(trace))
        now[0] = 20.0
        async with store.lock("trace_a"):
            await store.load("trace_c")  # sweeps: b goes, a is locked and stays
            assert await store.peek("trace_a") is None  # expired for readers all the same
        assert await store.peek("trace_b") is None
        return len(store)

    assert asyncio.run(scenario()) == 2


def test_modal_dict_store_shares_records_between_two_containers():
    shared = DictStandIn()
    first, second = ModalDictStateStore(shared), ModalDictStateStore(shared)

    async def scenario():
        async with first.lock("trace_x"):
            record = await first.load("trace_x")
            record.state["reads"] = ["a.md"]
            await first.save(record)
        async with second.lock("trace_x"):
            seen = await second.load("trace_x")
        return seen

    seen = asyncio.run(scenario())
    assert isinstance(seen, TraceRecord) and seen.state == {"reads": ["a.md"]}
    assert "lock:trace_x" not in shared.data


def test_modal_dict_lease_serialises_containers_and_recovers_from_a_crash():
    shared = DictStandIn()
    stores = [ModalDictStateStore(shared, poll_seconds=0.001) for _ in range(3)]

    async def bump(store):
        async with store.lock("trace_n"):
            record = await store.load("trace_n")
            value = record.state.get("n", 0)
            await asyncio.sleep(0.001)
            record.state["n"] = value + 1
            await store.save(record)

    async def scenario():
        await asyncio.gather(*(bump(stores[i % 3]) for i in range(30)))
        # A container died holding the lease: it is taken over once the lease has passed.
        shared._put("lock:trace_n", ("dead", 0.0))
        await asyncio.wait_for(bump(stores[0]), timeout=5)
        return await stores[1].peek("trace_n")

    assert asyncio.run(scenario()).state == {"n": 31}


def test_modal_dict_store_expires_by_wall_clock():
    now = [1000.0]
    store = ModalDictStateStore(DictStandIn(), ttl_seconds=5, clock=lambda: now[0])

    async def scenario():
        await store.save(TraceRecord("trace_t", state={"k": 1}))
        fresh = await store.peek("trace_t")
        now[0] += 6
        return fresh, await store.peek("trace_t"), await store.load("trace_t")

    fresh, expired, reloaded = asyncio.run(scenario())
    assert fresh.state == {"k": 1} and expired is None and reloaded.state == {}


def test_the_service_runs_on_the_modal_dict_store(tmp_path):
    write_corpus(generate_world(seed=0), tmp_path, style="compact")
    app = create_app(tmp_path, allow_no_auth=True, store=ModalDictStateStore(DictStandIn()))
    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "read_file",
        "arguments": '{"path": "reports/beltas-machines/2024-Q1.md"}',
        "trace_id": "trace_m",
    }
    with serve_in_background(app) as url:
        first = httpx.post(f"{url}/call", json=call).json()
        assert httpx.post(f"{url}/call", json=call).json() == first
        log = httpx.get(f"{url}/traces/trace_m").json()
    assert [c["replayed"] for c in log["calls"]] == [False, True]
    assert log["state"] == {"reads": ["reports/beltas-machines/2024-Q1.md"]}


def test_hostile_trace_ids_and_payloads_stay_within_the_stores_caps(tmp_path):
    """Distinct trace ids with 100 KB arguments (once: 1,000 of 878 KB took 1.7 GB for an hour):
    the least recently used traces go, each trace keeps its newest calls, evictions counted."""
    write_corpus(generate_world(seed=0), tmp_path, style="compact")
    store = InMemoryStateStore(max_traces=50, max_trace_bytes=400_000, max_total_bytes=2_000_000)
    app = create_app(tmp_path, allow_no_auth=True, store=store)
    padding = "x" * 100_000

    def call(trace: str, number: int) -> dict:
        arguments = json.dumps({"path": "reports/none.md", "padding": padding})
        return {"type": "function_call", "call_id": f"call_{number}", "name": "read_file",
                "arguments": arguments, "trace_id": trace}  # fmt: skip

    with serve_in_background(app) as url, httpx.Client(base_url=url) as client:
        for number in range(120):
            assert client.post("/call", json=call(f"trace_{number}", 0)).status_code < 500
        assert len(store) <= 20 and store.total_bytes <= 2_000_000  # the byte cap binds first
        assert store.evicted_traces >= 100
        assert client.get("/traces/trace_0").status_code == 404
        assert client.get("/traces/trace_119").status_code == 200
        for number in range(10):  # one trace, ten large calls: only its newest few are kept
            client.post("/call", json=call("trace_long", number))
        kept = [c["call_id"] for c in client.get("/traces/trace_long").json()["calls"]]
    assert kept == [f"call_{n}" for n in range(10 - len(kept), 10)] and 1 <= len(kept) <= 4
    assert store.evicted_calls >= 6


def test_the_trace_count_cap_evicts_the_least_recently_used():
    store = InMemoryStateStore(max_traces=3)

    async def scenario():
        for trace in ("a", "b", "c"):
            await store.save(await store.load(trace))
        await store.save(await store.load("a"))  # a is used again: b is now the oldest
        await store.save(await store.load("d"))
        return [t for t in "abcd" if await store.peek(t) is not None]

    assert asyncio.run(scenario()) == ["a", "c", "d"]
    assert store.evicted_traces == 1
