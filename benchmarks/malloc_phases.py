"""CPU time and peak memory of the local benchmark's phases under one glibc malloc setting
(prints a line per phase; not a test). The figures in ``rftkit/local/memory.py`` come from it:

    RFTKIT_MMAP_THRESHOLD=8388608 PYTHONPATH=$PWD python benchmarks/malloc_phases.py  # 8 MiB
    RFTKIT_MMAP_THRESHOLD=0 PYTHONPATH=$PWD python benchmarks/malloc_phases.py  # glibc's own

Phases as in ``local_training.py``, smaller: the base model on 40 held-out tasks, ``STEPS`` (4)
GRPO steps on the course task, the trained model on the same tasks, the flat-cost run. Each line
gives the phase's CPU seconds (user, system), minor page faults and the process's peak RSS so far.
"""

from __future__ import annotations

import os
import resource
import tempfile

import local_training

from rftkit.course.evaluate import evaluate
from rftkit.course.worlds import HELDOUT_SEEDS, world_seeds
from rftkit.local.checkpoint import BASE_CHECKPOINT, load_model
from rftkit.local.memory import mmap_threshold


def main() -> None:
    last = [resource.getrusage(resource.RUSAGE_SELF)]

    def mark(name: str) -> None:
        now, before = resource.getrusage(resource.RUSAGE_SELF), last[0]
        last[0] = now
        print(
            f"{name:14s} user {now.ru_utime - before.ru_utime:6.1f}s"
            f" sys {now.ru_stime - before.ru_stime:6.1f}s"
            f" minflt {now.ru_minflt - before.ru_minflt:9d}"
            f" maxrss {now.ru_maxrss / 1024**2:.2f} GB",
            flush=True,
        )

    steps = int(os.environ.get("STEPS", "4"))
    print(f"mmap threshold: {mmap_threshold() or 'glibc dynamic'}; {steps} GRPO steps")
    base, tokenizer = load_model(BASE_CHECKPOINT)
    mark("load")
    seeds = world_seeds(HELDOUT_SEEDS, 2)
    evaluate(base, tokenizer, seeds, temperature=1.0, tasks_per_world=20)
    mark("eval base")
    with tempfile.TemporaryDirectory() as directory:
        trained = local_training.train("course", steps, 0, directory)
        mark("train course")
        evaluate(trained.model, tokenizer, seeds, temperature=1.0, tasks_per_world=20)
        mark("eval trained")
        local_training.train("flat_cost", steps, 0, directory + "/flat")
        mark("train flat")


if __name__ == "__main__":
    main()
