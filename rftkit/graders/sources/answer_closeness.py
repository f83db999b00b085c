"""Partial credit for the course's answers: exact 1, close 0.5, right digits wrong scale 0.25.

Self-contained (submitted as a ``python`` grader's source). Reads ``item.reference_answer`` (the
canonical string), ``item.reference_value`` (float) and ``item.unit``. The answer is
``sample.output_json.answer`` when the model answered in JSON, else the text after the last
"Answer:", else the whole text. Quarter labels (2024-Q3) are ignored; any other second distinct
number makes the answer ambiguous (hedges like "either 12 or 13", or every number of the
document listed) and scores 0.
"""

import math
import re
from decimal import Decimal, InvalidOperation

QUARTER = re.compile(r"\b\d{4}-?Q[1-4]\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
HEDGES = re.compile(r"\b(either|or|between|maybe|possibly|approximately|roughly)\b", re.IGNORECASE)
CLOSE = 0.01  # relative error that still earns partial credit
CREDIT_EXACT, CREDIT_CLOSE, CREDIT_SCALE = 1.0, 0.5, 0.25


def answer_text(sample):
    """The part of the output that states the answer."""
    data = sample.get("output_json")
    if isinstance(data, dict) and "answer" in data:
        return str(data["answer"])
    text = sample.get("output_text") or ""
    marker = text.lower().rfind("answer:")
    return text[marker + len("answer:") :] if marker >= 0 else text


def numbers_in(text):
    """Every number in ``text`` as a Decimal (exact: no float rounding in the comparison)."""
    text = QUARTER.sub(" ", text.replace("\u2212", "-"))
    return [Decimal(m.group(0).replace(",", "")) for m in NUMBER.finditer(text)]


def numeric_credit(value, reference_value, reference_text):
    """Exact means "rounds to the reference at the reference's precision" (strictly)."""
    try:
        reference = Decimal(reference_text.replace(",", "").replace("\u2212", "-"))
    except InvalidOperation:
        reference = Decimal(repr(reference_value))
    exponent = reference.as_tuple().exponent
    tolerance = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)
    if abs(value - reference) < tolerance:
        return CREDIT_EXACT
    value, reference_value = float(value), float(reference)
    scale = max(abs(reference_value), 1e-9)
    if abs(value - reference_value) / scale <= CLOSE:
        return CREDIT_CLOSE
    if value and reference_value and (value > 0) == (reference_value > 0):
        ratio = math.log10(abs(value) / abs(reference_value))
        if abs(ratio - round(ratio)) < 1e-3 and round(ratio) != 0:
            return CREDIT_SCALE
    return 0.0


def normalise(name):
    return " ".join(re.sub(r"[^\w\s]", " ", name.lower()).split())


def company_credit(text, reference):
    said, wanted = normalise(text), normalise(reference)
    if said == wanted:
        return CREDIT_EXACT
    if wanted and wanted in said and not HEDGES.search(text) and len(said) <= 2 * len(wanted) + 20:
        return CREDIT_CLOSE
    return 0.0


def grade(sample, item):
    text = answer_text(sample)
    if item.get("unit") == "company":
        return company_credit(text, str(item["reference_answer"]))
    found = sorted(set(numbers_in(text)))
    if len(found) != 1 or HEDGES.search(text):
        return 0.0
    return numeric_credit(found[0], float(item["reference_value"]), str(item["reference_answer"]))
