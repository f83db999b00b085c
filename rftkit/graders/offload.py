"""Grading off a server's event loop: blocking waits in a bounded pool, scoring in a killable child.

``text_similarity`` scoring is CPU-bound pure Python, and rouge's longest-common-subsequence
table grows with the product of the two texts' lengths: a 177 KB answer against a 177 KB
reference took 33 s and 1.1 GB. On a server's event loop that stalls every route; in a thread it
still holds the GIL and cannot be stopped. So a server grades through :class:`OffLoop`: each
similarity score runs in a child forked from a forkserver that has the scorers loaded, with an
address-space cap and a deadline after which the child is killed and the sample scores 0
(``other_error``). Python graders' waits (their sandbox child does the work) go to the same
bounded thread pool instead of the event loop's shared default one, so a few looping graders
cannot take every thread other requests need.

:func:`in_child` is the same child for any CPU-bound work a server must not do on its loop
(the local API checks uploaded files with it).

Scripts and the trainer keep grading inline (``run_grader``, ``run_grader_async`` without
``off_loop``): their event loop serves no one else.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from rftkit.errors import RFTKitError
from rftkit.graders.result import GraderFailure
from rftkit.graders.similarity import MetricUnavailable, similarity

T = TypeVar("T")
MIB = 1024 * 1024
SCORE_DEADLINE_S = 30.0
SCORE_MEMORY_BYTES = 1024 * MIB
_PRELOAD = [
    "rftkit.graders.similarity",
    "rouge_score.rouge_scorer",
    "nltk.translate.bleu_score",
    "nltk.translate.gleu_score",
]
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(_PRELOAD)  # each child starts with the scorers imported


class ChildFailed(RuntimeError, RFTKitError):
    """Work in a child did not finish: stopped at its deadline, out of memory, or raised. The
    message names the reason, never the inputs."""


def _child(
    conn: Connection, function: Callable[..., Any], args: tuple, memory_bytes: int | None
) -> None:
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    try:
        conn.send(("ok", function(*args)))
    except MemoryError:
        conn.send(("error", f"needed more than {(memory_bytes or 0) // MIB} MB; stopped"))
    except MetricUnavailable as exc:  # its message says what to install
        conn.send(("error", str(exc)))
    except Exception as exc:  # the type only: the message could quote the inputs
        conn.send(("error", f"failed ({type(exc).__name__})"))


def in_child(
    function: Callable[..., T], *args: Any, deadline_s: float, memory_bytes: int | None = None
) -> T:
    """``function(*args)`` in a child forked from the forkserver and killed after
    ``deadline_s``; ChildFailed when it does not return. Blocking: call it from a thread.

    One child per call, not a pool: a pool's idle workers would outlive a server that is killed
    (and keep its forkserver alive); a child lives only as long as its work.
    """
    receiver, sender = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_child, args=(sender, function, args, memory_bytes), daemon=True
    )
    child.start()
    sender.close()
    try:
        if not receiver.poll(deadline_s):
            raise ChildFailed(f"took longer than {deadline_s:g} s; stopped")
        kind, value = receiver.recv()
    except EOFError:
        raise ChildFailed("the process died") from None
    finally:
        child.kill()
        child.join()
        receiver.close()
    if kind != "ok":
        raise ChildFailed(value)
    return value


def similarity_in_child(
    metric: str,
    text: str,
    reference: str,
    *,
    deadline_s: float = SCORE_DEADLINE_S,
    memory_bytes: int = SCORE_MEMORY_BYTES,
) -> float:
    """``similarity(metric, text, reference)`` in a child; GraderFailure when it fails."""
    try:
        return in_child(
            similarity, metric, text, reference, deadline_s=deadline_s, memory_bytes=memory_bytes
        )
    except ChildFailed as exc:
        raise GraderFailure("other_error", f"text_similarity {exc}") from None


@dataclass
class OffLoop:
    """Where gradings on a server's event loop put their blocking work (``workers`` threads)."""

    workers: int = 8
    deadline_s: float = SCORE_DEADLINE_S
    memory_bytes: int = SCORE_MEMORY_BYTES
    _pool: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rftkit-grading")

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on one of the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def similarity(self, metric: str, text: str, reference: str) -> float:
        score = partial(
            similarity_in_child, deadline_s=self.deadline_s, memory_bytes=self.memory_bytes
        )
        return await self.call(score, metric, text, reference)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
