"""The local training benchmark's committed results, one row per GRPO seed (prints a table).

    python benchmarks/local_training_seeds.py

Reads ``results/local_training.json`` (seed 0) and ``results/local_training_seed<N>.json``, each
written by ``benchmarks/local_training.py --seed N``; nothing is re-run here.
"""

from __future__ import annotations

from rftkit.local.results import load_results, markdown, seeds_table


def main() -> None:
    print(markdown(seeds_table(load_results())))


if __name__ == "__main__":
    main()
