"""Which world seeds serve which purpose, so held-out worlds are never trained or tuned on.

- pre-training transcripts: seeds 1000 and up;
- GRPO training tasks: seeds 2000 and up (unseen by pre-training too);
- validation during GRPO: seeds 300-304;
- tuning (choosing rewards and settings by evaluating on them, as the benchmark's
  ``--worlds tuning`` does): seeds 2500 and up;
- held-out evaluation (benchmark only, never looked at while tuning): seeds 100-119.

A seed whose world is too small for a full task set is skipped, so a range may yield fewer worlds
than asked; ``world_seeds`` says which ones it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rftkit.course.world import Task, World, generate_tasks, generate_world, write_corpus
from rftkit.toolserver.corpus import Corpus

PRETRAIN_SEEDS = 1000
GRPO_SEEDS = 2000
VALID_SEEDS = 300
HELDOUT_SEEDS = 100
TUNING_SEEDS = 2500


@dataclass(frozen=True)
class LocalWorld:
    """A world, its tasks, and its compact corpus written under ``root``."""

    world: World
    tasks: list[Task]
    root: Path

    def corpus(self) -> Corpus:
        return Corpus.load(self.root)


def world_seeds(start: int, count: int) -> list[int]:
    """The first ``count`` seeds from ``start`` whose worlds yield a full task set."""
    seeds, seed = [], start
    while len(seeds) < count:
        try:
            generate_tasks(generate_world(seed), seed)
            seeds.append(seed)
        except ValueError:
            pass
        seed += 1
    return seeds


def build_world(seed: int, directory: str | Path) -> LocalWorld:
    """World ``seed`` with its 100 tasks and compact corpus under ``directory/world-<seed>``."""
    world = generate_world(seed)
    root = Path(directory) / f"world-{seed}"
    write_corpus(world, root, style="compact")
    return LocalWorld(world, generate_tasks(world, seed), root)
