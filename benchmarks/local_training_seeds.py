"""The local training benchmark's committed results, one row per GRPO seed (prints a table).

    python benchmarks/local_training_seeds.py                              # held-out worlds
    python benchmarks/local_training_seeds.py --worlds tuning --top-p 0.9  # a sampler, tuning

Reads ``results/local_training.json`` (seed 0) and ``results/local_training_seed<N>.json``, each
written by ``benchmarks/local_training.py --seed N`` (``results/tuning/`` and the ``_top_p<P>``
names for the other options); nothing is re-run here.
"""

from __future__ import annotations

import argparse

from rftkit.local.results import RESULTS, load_results, markdown, seeds_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", choices=("heldout", "tuning"), default="heldout")
    parser.add_argument("--top-p", type=float, default=1.0)
    args = parser.parse_args()
    directory = RESULTS if args.worlds == "heldout" else RESULTS / args.worlds
    print(markdown(seeds_table(load_results(directory, args.top_p))))


if __name__ == "__main__":
    main()
