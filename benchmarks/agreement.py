"""Bootstrap kappa intervals: the vectorised statistic against scikit-learn once per resample.

Both runs use the same seeded ``scipy.stats.bootstrap`` (BCa, 2,000 resamples, items resampled
in pairs) on the course's reference labels against the course grader's binned rewards; the
intervals are asserted equal and the table shows seconds per interval and the speed-up.

    PYTHONPATH=$PWD python benchmarks/agreement.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import cohen_kappa_score

from rftkit.course.grader import course_grader
from rftkit.course.reference_labels import SCALE, load_reference_set
from rftkit.evaluation.agreement import kappa_interval
from rftkit.graders import run_grader

RESAMPLES = 2000
REPEATS = 3


def _codes(values) -> np.ndarray:
    return np.array([SCALE.index(float(v)) for v in values])


def main() -> None:
    reference = load_reference_set()
    grader = course_grader()
    rewards = [run_grader(grader, row.sample, row.item).reward for row in reference.itertuples()]
    binned = np.array(SCALE)[np.digitize(rewards, [0.25, 0.75])]
    human, graded = _codes(reference["label"]), _codes(binned)
    print(f"{len(human)} items, {RESAMPLES} resamples, BCa, best of {REPEATS}\n")
    print(f"{'weights':<10} {'sklearn per resample (s)':>25} {'vectorised (s)':>15} {'ratio':>7}")
    for weights in (None, "linear", "quadratic"):

        def per_resample(a, b, weights=weights):
            return cohen_kappa_score(a, b, labels=[0, 1, 2], weights=weights)

        slow, fast = [], []
        for _ in range(REPEATS):
            started = time.perf_counter()
            baseline = bootstrap((human, graded), per_resample, paired=True, vectorized=False,
                                 n_resamples=RESAMPLES, rng=np.random.default_rng(0))  # fmt: skip
            slow.append(time.perf_counter() - started)
            started = time.perf_counter()
            ours = kappa_interval(human, graded, labels=[0, 1, 2], weights=weights,
                                  n_resamples=RESAMPLES, seed=0)  # fmt: skip
            fast.append(time.perf_counter() - started)
        low, high = baseline.confidence_interval
        assert np.allclose([low, high], [ours.low, ours.high], atol=1e-12), (low, high, ours)
        name = str(weights)
        print(f"{name:<10} {min(slow):>25.3f} {min(fast):>15.3f} {min(slow) / min(fast):>6.0f}x")


if __name__ == "__main__":
    main()
