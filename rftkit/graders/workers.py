"""Score CPU-bound graders in worker processes that the grader server kills at its deadline.

A ``text_similarity`` grader on a long answer (BLEU, ROUGE-L on 100 KB) is pure Python work: on
the server's event loop it stalls every other request, ``/healthz`` included, and
``asyncio.wait_for`` cannot stop it. The grader server hands such configs to a
:class:`ScoringPool` instead. Each worker is a separate interpreter (``python -m
rftkit.graders.workers``) that reads one JSON request per line on stdin, runs
:func:`~rftkit.graders.engine.run_grader`, and writes one JSON result per line. A request not
answered by its deadline kills its worker (the next request starts a fresh one), so the deadline
is real and the server's loop only ever waits.

The workers are this project's own code (not grader code from elsewhere): they inherit the
server's environment, and python graders inside such a config still run in the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

_READY = "ready"
_START_S = 60.0
"""How long a new worker may take to import the engine (not counted in a request's deadline)."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rftkit.graders.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        self._send(config)
        if self._receive(_START_S) != _READY:
            self.kill()
            raise RuntimeError("the scoring worker did not start")

    def _send(self, message: Any) -> None:
        self.stdin.write(json.dumps(message).encode() + b"\n")
        self.stdin.flush()

    def _receive(self, timeout_s: float) -> Any:
        poller = select.poll()
        poller.register(self.stdout, select.POLLIN)
        if not poller.poll(max(timeout_s, 0) * 1000):
            raise TimeoutError(f"no answer within {timeout_s:g} s")
        line = self.stdout.readline()
        if not line:
            raise RuntimeError("the scoring worker ended")
        return json.loads(line)

    def ask(self, request: dict[str, Any], timeout_s: float) -> tuple[float, list[str]]:
        self._send(request)
        answer = self._receive(timeout_s)
        return float(answer["reward"]), list(answer["flags"])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.stdin.close()
        self.stdout.close()


class ScoringPool:
    """Workers for one grader config, started on demand and reused; at most as many at once as
    requests being graded (the server's ``max_concurrent``)."""

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
        self.config = dict(config)
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker(self.config, self.env)

    def _score(self, request: dict[str, Any], deadline_s: float) -> tuple[float, list[str]]:
        worker = self._take()
        try:
            answer = worker.ask(request, deadline_s)
        except BaseException:
            worker.kill()  # mid-request: its state is unknown, and it may still be computing
            raise
        with self._lock:
            self._idle.append(worker)
        return answer

    async def score(
        self, sample: Mapping[str, Any], item: Mapping[str, Any], trace_id: str, deadline_s: float
    ) -> tuple[float, list[str]]:
        """``(reward, flags set)``; TimeoutError (its worker killed) past ``deadline_s``."""
        request = {"sample": dict(sample), "item": dict(item), "trace_id": trace_id}
        return await asyncio.to_thread(self._score, request, deadline_s)

    def warm(self) -> None:
        """Start one worker ahead of the first request (it takes a second or two to import)."""
        worker = _Worker(self.config, self.env)
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


def _preload(config: Mapping[str, Any]) -> None:
    """Import each metric's library now (NLTK, rouge-score take seconds), not in a request."""
    from rftkit.graders.similarity import MetricUnavailable, similarity

    if config["type"] == "text_similarity":
        with contextlib.suppress(MetricUnavailable):
            similarity(config["evaluation_metric"], "warm up", "warm up")
    for sub in config.get("graders", {}).values() if config["type"] == "multi" else ():
        _preload(sub)


def main() -> None:
    """The worker: the config on the first line, then one request per line until EOF."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library's print must not corrupt the answers
    from rftkit.graders.engine import run_grader

    config = json.loads(sys.stdin.buffer.readline())
    _preload(config)
    answers.write(json.dumps(_READY).encode() + b"\n")
    answers.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        result = run_grader(
            config, request["sample"], request["item"], trace_id=request["trace_id"]
        )
        flags = [flag for flag, value in result.metadata.errors if value is True]
        answer = {"reward": result.reward, "flags": flags}
        answers.write(json.dumps(answer).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    main()
