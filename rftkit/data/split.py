"""Train/validation split that keeps every task type and tier in both halves in proportion.

scikit-learn's ``train_test_split(stratify=...)`` does the allocation (it rounds per stratum so the
totals come out right); this module only builds the strata and keeps the lines' original order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.model_selection import train_test_split

Record = Mapping[str, Any]


def stratified_split(
    lines: Sequence[Record],
    valid_fraction: float,
    seed: int,
    by: Sequence[str] = ("task_type", "tier"),
) -> tuple[list[Record], list[Record]]:
    """``(train, validation)``; each stratum (the values of ``by``) is split in proportion.

    Every stratum needs at least two lines; the error names the ones that have fewer.
    """
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction must be between 0 and 1, not {valid_fraction}")
    missing = [(i, key) for i, line in enumerate(lines) for key in by if key not in line]
    if missing:
        index, key = missing[0]
        raise ValueError(f"line {index + 1} has no {key!r} to stratify by ({len(missing)} gaps)")
    strata = ["|".join(str(line[key]) for key in by) for line in lines]
    small = sorted(s for s, count in Counter(strata).items() if count < 2)
    if small:
        raise ValueError(f"strata with fewer than 2 lines cannot be split: {', '.join(small)}")
    train_idx, valid_idx = train_test_split(
        list(range(len(lines))), test_size=valid_fraction, random_state=seed, stratify=strata
    )
    return [lines[i] for i in sorted(train_idx)], [lines[i] for i in sorted(valid_idx)]
