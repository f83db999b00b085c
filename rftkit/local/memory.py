"""glibc malloc settings for training torch models on CPU in a long-lived process (a notebook, the
benchmark, the local API): without them the local engine's peak memory grows with every job.

Three glibc behaviours:
- its *dynamic mmap threshold* rises to the size of each large block freed (up to 32 MB), so
  activations of a few MB come from the heap instead of ``mmap`` and stay there, fragmented, after
  they are freed. Fixing the threshold maps the larger blocks and returns them on free, at the
  price of page faults on every new mapping. Four GRPO steps of the benchmark's course run
  (``RFTKIT_MMAP_THRESHOLD=<bytes> python benchmarks/malloc_phases.py``; CPU user + system, peak
  RSS):
  glibc's default 100 s, 1.48 GB; 16 MiB 106 s, 1.48 GB; 8 MiB 103 s, 1.34 GB; 4 MiB 112 s,
  1.16 GB; 1 MiB 133 s, 0.98 GB (runs sharing the two cores differently, so CPU figures within
  ~5% are noise). 8 MiB is the default: no CPU cost beyond that noise. The environment
  variable ``RFTKIT_MMAP_THRESHOLD`` sets another (bytes; 0 keeps glibc's dynamic threshold).
- each new thread gets its own *arena*, which keeps what that thread freed: jobs train on their
  own threads, so the arenas are capped at two.
- even so, what a GRPO step frees (rollouts' keys and values, the loss step's activations, blocks
  of many sizes under the threshold) stays in the arenas, fragmented, and the process grows
  through the job while what is in use stays flat (``mallinfo2``'s in-use and free bytes). The
  trainer hands free pages back with ``malloc_trim`` before and after each loss step. Ten steps
  (``python benchmarks/step_memory.py``): peak 1.50 GB instead of 1.99, at the price of page
  faults when the pages are used again (7.0 million instead of 3.3) and CPU (+8% and +20% in two
  runs, -5% in a third).

``mallopt`` is called through ctypes because Python has no binding; elsewhere than glibc it is a
no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 8 << 20
THRESHOLD_ENV = "RFTKIT_MMAP_THRESHOLD"
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, found once: ``find_library`` runs ``ldconfig`` in a subprocess."""
    name = ctypes.util.find_library("c")
    if not (sys.platform.startswith("linux") and name):
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def mmap_threshold() -> int:
    """The threshold to fix, in bytes: ``RFTKIT_MMAP_THRESHOLD`` or 8 MiB; 0 leaves glibc's."""
    value = os.environ.get(THRESHOLD_ENV, "").strip()
    if not value:
        return MMAP_THRESHOLD_BYTES
    if not value.isdigit():
        raise ValueError(f"{THRESHOLD_ENV} must be a whole number of bytes, not {value!r}")
    return int(value)


def tune_malloc() -> bool:
    """Fix the mmap threshold and cap the arenas (idempotent); False where glibc is absent."""
    libc = _libc()
    if libc is None:
        return False
    threshold = mmap_threshold()
    if threshold:
        libc.mallopt(M_MMAP_THRESHOLD, threshold)
    libc.mallopt(M_ARENA_MAX, ARENAS)
    return True


def release_free_memory() -> None:
    """Hand the allocator's free pages back to the system (around a loss step, after a job or an
    evaluation)."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(OSError):
            libc.malloc_trim(0)
