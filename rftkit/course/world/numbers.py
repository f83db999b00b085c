"""Exact number rules shared by the reports and the task answers.

Money is a ``Decimal`` with exactly one decimal place (USD millions), built from integer
tenths, so printed figures, sums and differences can never disagree through float error.
"""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

TENTH = Decimal("0.1")


def tenths(count: int) -> Decimal:
    """Turn an integer number of tenths into a one-decimal amount (12345 -> 1234.5)."""
    return Decimal(count).scaleb(-1)


def plain(value: Decimal | int) -> str:
    """Canonical answer text: no thousands separator, leading '-' when negative."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def grouped(value: Decimal | int) -> str:
    """Report text: thousands separated by commas, as a human-written report would."""
    return f"{value:,}"


def growth_percent(old: Decimal | int, new: Decimal | int) -> Decimal:
    """Percent change old -> new, rounded half-even to one decimal on exact Decimals.

    A zero result is returned unsigned so '-0.0' can never appear as an answer.
    """
    with localcontext() as ctx:
        ctx.prec = 50
        change = (Decimal(new) - Decimal(old)) * 100 / Decimal(old)
        rounded = change.quantize(TENTH, rounding=ROUND_HALF_EVEN)
    return rounded.copy_abs() if rounded.is_zero() else rounded
