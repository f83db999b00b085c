"""Keep a demo run's checkpoints for notebook 06, and evaluate each on the job's validation lines.

``rftkit demo --out RUN`` leaves the job's checkpoints in ``RUN/job/checkpoints/step-N.pt`` (one
per validation: steps 8, 16 and 24 by default, and step 0, the base model, which is not copied).
This script writes each in float16 to ``OUT/checkpoints/`` (half the bytes; the notebook loads and
evaluates exactly these files), then rolls out the base model and every kept checkpoint ``k``
times on each of the course task's validation lines (the lines the job validated on, never the
held-out items the notebook measures the chosen checkpoint on), seeded, graded by the demo's
reward (the latency reward with the support term), and writes one row per rollout to
``OUT/validation.csv``. Notebook 06 chooses a checkpoint from that file.

Run from the repository root (about five minutes on two cores):

    PYTHONPATH=$PWD python scripts/demo_checkpoints.py runs/demo notebooks/data/demo_run
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rftkit.course.checkpoints import save_half_precision, validation_rows
from rftkit.local.checkpoint import BASE_CHECKPOINT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the folder `rftkit demo --out` wrote")
    parser.add_argument("out", type=Path, help="where the notebook reads the run")
    parser.add_argument("-k", type=int, default=2, help="rollouts per validation line")
    args = parser.parse_args()
    found = sorted(
        (p for p in (args.run / "job").rglob("step-*.pt") if p.stem != "step-0"),  # the base
        key=lambda p: int(re.findall(r"\d+", p.stem)[0]),
    )
    if not found:
        raise SystemExit(f"no step-N.pt under {args.run / 'job'}")
    kept = {"base": BASE_CHECKPOINT}
    for path in found:
        kept[path.stem] = save_half_precision(path, args.out / "checkpoints" / path.name)
        print(f"kept {kept[path.stem]} ({kept[path.stem].stat().st_size / 1e6:.1f} MB)")
    rows = validation_rows(kept, k=args.k)
    rows.to_csv(args.out / "validation.csv", index=False)
    print(rows.groupby("checkpoint", sort=False)[["reward", "correct"]].mean().round(3))


if __name__ == "__main__":
    main()
