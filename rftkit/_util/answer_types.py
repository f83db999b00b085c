"""What kind of value an answer is (a number, a date, a label, JSON, free text), and a plausible
wrong answer of the same kind.

The red team picks its probes by kind (listing every date attacks a date answer, not a number
one) and the scripted "sloppy" policy answers wrongly in the answer's own format. A *label* is
a short answer drawn from a small set: a kind of its own only when the caller knows the set
(the distinct answers of a dataset, :func:`label_set`).

Dates are recognised with :func:`datetime.date.fromisoformat` (ISO 8601 ``YYYY-MM-DD``, the
format a dataset should store); numbers with :class:`decimal.Decimal`, thousands separators
allowed. Hand-written on purpose: a full date parser (dateutil) would also read "12" or "May" as a
date.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

Kind = Literal["number", "date", "label", "json", "text"]
KINDS: tuple[Kind, ...] = ("number", "date", "label", "json", "text")
MAX_LABELS = 12
"""A dataset whose answers take at most this many distinct short values answers with labels."""
MAX_LABEL_CHARS = 40
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
NUMBER = re.compile(r"(?<![\w.-])-?\d[\d,]*(?:\.\d+)?(?![\w-])")


def as_number(text: str) -> Decimal | None:
    """The number ``text`` is (``"1,204.5"`` → 1204.5), or None."""
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def as_date(text: str) -> date | None:
    """The ISO date ``text`` is (``"2026-12-04"``), or None."""
    try:
        return date.fromisoformat(text.strip()) if DATE.fullmatch(text.strip()) else None
    except ValueError:
        return None


def label_set(answers: Iterable[str]) -> frozenset[str]:
    """The answers that are labels: the dataset's text answers (numbers and dates set aside) when
    they take few distinct short values (at least two); else empty."""
    distinct = {a.strip() for a in answers}
    text = {a for a in distinct if a and as_number(a) is None and as_date(a) is None}
    looks = len(text) <= MAX_LABELS and all(len(a) <= MAX_LABEL_CHARS for a in text)
    return frozenset(text) if looks and len(text) >= 2 else frozenset()


def kind_of(answer: str, labels: Iterable[str] = ()) -> Kind:
    """The kind of ``answer``; ``labels`` (e.g. :func:`label_set` of the dataset) makes a label."""
    text = answer.strip()
    if as_number(text) is not None:
        return "number"
    if as_date(text) is not None:
        return "date"
    if text in set(labels):
        return "label"
    if text[:1] in "{[":
        try:
            json.loads(text)
            return "json"
        except ValueError:
            pass
    return "text"


def wrong_answer(
    answer: str, draw: random.Random, *, others: Sequence[str] = (), labels: Iterable[str] = ()
) -> str:
    """A plausible wrong answer in ``answer``'s own format: a number off by 1 to 20%, a date a
    few days off, another label, else another item's answer (``others``)."""
    kind = kind_of(answer, labels)
    if kind == "number":
        value = as_number(answer)
        assert value is not None
        step = abs(value) * Decimal(draw.randint(1, 20)) / 100 or Decimal(1)
        exponent = Decimal(1).scaleb(min(0, value.as_tuple().exponent))  # keep its decimals
        wrong = (value + step * draw.choice((-1, 1))).quantize(exponent)
        return str(wrong if wrong != value else value + exponent)
    if kind == "date":
        day = as_date(answer)
        assert day is not None
        return (day + timedelta(days=draw.choice((-3, -2, -1, 1, 2, 3)))).isoformat()
    pool = sorted({*labels, *others} - {answer})
    return draw.choice(pool) if pool else f"not {answer}"
