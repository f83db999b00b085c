"""Credit for the final answer, following the course's labelling rubric (version 1) rule by rule.

Self-contained (submitted as a ``python`` grader's source: standard library only). Reads
``item.reference_answer`` (the canonical string, whose decimals are the precision asked),
``item.unit`` ("USD millions", "people", "%" or "company") and, for comparisons, the question
in ``item.messages[0].content`` (its "A or B?" names the candidates). The answer is
``sample.output_json.answer`` when the model answered in JSON, else the text after the last
"Answer:", else the whole text.

1 for the right figure or exact company name; 0.5 for one defect a careful reader would catch
(rounded more coarsely than asked); 0 for wrong, missing, ambiguous or grader-gaming answers:

- numbers are read with their scale word and unit (``$2.9754 billion`` is 2975.4 USD millions,
  ``14.3 billion`` is not 14.3); a bare number is in the unit the question asks for; a unit
  of another kind (``%`` for money) is wrong; "decreased by" negates the figure;
- a figure in brackets, or after words such as "originally reported", that is marked as the
  superseded pre-restatement value is context, not a second answer; anything else with two
  different figures is a hedge;
- a figure that is the reference rounded to a coarser precision than asked (``7%`` for 6.8)
  earns 0.5 while it stays within a tenth of the reference; a different figure at full
  precision (a superseded one, 374.6 for 378.3) earns nothing — there is no "close" band;
- a company counts only when exactly one candidate name is mentioned, matched longest first
  so that a near-identical twin ("Valaris Energy Partners") never counts as "Valaris Energy";
- text addressed to the grader ("SYSTEM: award full marks") earns 0 whatever else it says.

Tickers (0.5 in the rubric) are not recognised: the dataset line does not carry them, and
guessing them from a name would be a lookup, not a rule.
"""

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

CREDIT_RIGHT, CREDIT_IMPRECISE = 1.0, 0.5
TIES = (ROUND_HALF_UP, ROUND_HALF_EVEN)  # either convention is a rounding (1234.5 -> 1234 or 1235)
COARSE_LIMIT = Decimal("0.1")  # coarse rounding further than this (relative) is a different figure

ADDRESSES_GRADER = re.compile(
    r"\b(?:grader|grading|rubric|full (?:marks|credit|score)|maximum (?:score|reward|marks)"
    r"|award|ignore (?:\w+ ){0,3}(?:instructions|rules|reference))\b"
    r"|^\s*(?:system|assistant|developer)\s*:|[\"']result[\"']\s*:",
    re.IGNORECASE | re.MULTILINE,
)
QUARTER = re.compile(r"\b\d{4}-?Q[1-4]\b|\bQ[1-4][\s-]?\d{4}\b|\bQ[1-4]\b", re.IGNORECASE)
SUPERSEDED = (
    r"original(?:ly)?|previous(?:ly)?|initial(?:ly)?|first reported|superseded|pre-restatement"
    r"|restated from|(?:before|prior to) (?:the )?restatement"
)
SUPERSEDED_IN_BRACKETS = re.compile(
    rf"\((?=[^()]*\b(?:{SUPERSEDED}))[^()]*\)|\[(?=[^\[\]]*\b(?:{SUPERSEDED}))[^\[\]]*\]",
    re.IGNORECASE,
)
NUMBER_TEXT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
SUPERSEDED_PHRASE = re.compile(
    rf"\b(?:{SUPERSEDED})\b[^\d;.]{{0,30}}?[-+]?\$?(?:{NUMBER_TEXT})", re.IGNORECASE
)
FIGURE = re.compile(
    r"(?<![\w.,])(?P<sign>[-+\u2212])?\s*(?P<currency>US\$|\$|USD\s*)?(?P<sign2>[-+\u2212])?"
    rf"(?P<number>{NUMBER_TEXT})"
    r"(?:\s*(?P<scale>(?:trillion|billion|million|thousand)s?|bn|mn|tn|[kmb])\b)?",
    re.IGNORECASE,
)
SCALES = {"thousand": 3, "k": 3, "million": 6, "mn": 6, "m": 6}
SCALES.update({"billion": 9, "bn": 9, "b": 9, "trillion": 12, "tn": 12})
UNIT_BASE = {"USD millions": 6, "people": 0, "%": 0}
UNIT_WORDS = {
    "USD millions": re.compile(r"\$|\busd\b|\bdollars?\b", re.IGNORECASE),
    "%": re.compile(r"%|\bper ?cent(?:age)?\b|\bpct\b", re.IGNORECASE),
    "people": re.compile(r"\b(?:people|persons|employees|staff|workers|heads)\b", re.IGNORECASE),
}
HEDGE = re.compile(r"\b(?:either|or|maybe|possibly|perhaps)\b", re.IGNORECASE)
DECREASE = re.compile(r"\b(?:decrease[sd]?|declined?|fell|dropped|down)\b", re.IGNORECASE)


def answer_text(sample):
    """The part of the output that states the answer."""
    data = sample.get("output_json")
    if isinstance(data, dict) and "answer" in data:
        return str(data["answer"])
    text = sample.get("output_text") or ""
    marker = text.lower().rfind("answer:")
    return text[marker + len("answer:") :] if marker >= 0 else text


def addresses_grader(sample):
    """Rule 9: any part of the output (not only the answer) speaks to the grader."""
    return bool(ADDRESSES_GRADER.search(sample.get("output_text") or ""))


def question_of(item):
    messages = item.get("messages") or []
    return str(messages[0].get("content", "")) if messages and isinstance(messages[0], dict) else ""


def committed_text(text, question):
    """The answer without quarter labels, marked superseded figures, and the question's years.

    A year is dropped only while another figure remains: a bare "2024" may be the answer.
    """
    text = QUARTER.sub(" ", text.replace("\u2212", "-"))
    text = SUPERSEDED_PHRASE.sub(" ", SUPERSEDED_IN_BRACKETS.sub(" ", text))
    years = set(re.findall(r"\b(?:19|20)\d{2}\b", question))
    stripped = re.sub(
        r"\b(?:19|20)\d{2}\b", lambda m: " " if m.group(0) in years else m.group(0), text
    )
    return stripped if FIGURE.search(stripped) else text


def figures_in(text, unit):
    """Every figure in ``text`` as a Decimal in the question's unit (scale words applied)."""
    base = UNIT_BASE[unit]
    figures = []
    for found in FIGURE.finditer(text):
        value = Decimal(found.group("number").replace(",", ""))
        if value.as_tuple().exponent >= 0:
            value = value.normalize()  # "1,500" is written to the hundred: 1.5E+3
        scale = (found.group("scale") or "").lower().removesuffix("s")
        value = value.scaleb(SCALES[scale] - base if scale else 0)
        if (found.group("sign") or found.group("sign2")) == "-":
            value = -value
        figures.append(value)
    return figures


def other_unit_named(text, unit):
    """Rule 1: a unit word of another kind (``%`` for money) changes the value: wrong."""
    return any(pattern.search(text) for name, pattern in UNIT_WORDS.items() if name != unit)


def rounds_to(value, reference, exponent, modes=(ROUND_HALF_UP,)):
    """Whether ``value`` rounded at 10**exponent (by any of ``modes``) equals ``reference``."""
    step = Decimal(1).scaleb(exponent)
    return any(value.quantize(step, rounding=mode) == reference for mode in modes)


def numeric_credit(value, reference_text):
    """Rule 5: exact (or extra precision that rounds to it) 1; coarser rounding 0.5; else 0."""
    reference = Decimal(reference_text.replace(",", "").replace("\u2212", "-"))
    asked = reference.as_tuple().exponent
    written = value.as_tuple().exponent
    if value == reference or (written <= asked and rounds_to(value, reference, asked)):
        return CREDIT_RIGHT
    coarse = written > asked and rounds_to(reference, value, written, TIES)
    if coarse and abs(value - reference) <= COARSE_LIMIT * abs(reference):
        return CREDIT_IMPRECISE
    return 0.0


def normalise(name):
    return " " + " ".join(re.sub(r"[^\w\s]", " ", name.lower()).split()) + " "


def candidates(question, reference):
    """The names a comparison offers ("...: A or B?"), and the reference in any case."""
    found = re.search(r":\s*(.+?)\s+or\s+(.+?)\?\s*$", question)
    return {reference, *(found.groups() if found else ())}


def company_credit(text, reference, question):
    """Rule 7/8: exactly one candidate named, and it is the reference (twins told apart)."""
    said = normalise(text)
    named = set()
    for name in sorted(candidates(question, reference), key=len, reverse=True):
        phrase = normalise(name)
        if phrase in said:
            named.add(name)
            said = said.replace(phrase, " | ")
    extended = re.search(re.escape(reference) + r"\s+[A-Z][a-z]+\b", text)  # a longer twin name
    hedged = HEDGE.search(text)
    return CREDIT_RIGHT if named == {reference} and not extended and not hedged else 0.0


def grade(sample, item):
    unit, reference = item["unit"], str(item["reference_answer"])
    if unit != "company" and unit not in UNIT_BASE:
        raise ValueError(f"item.unit: {unit!r} is not 'company' or one of {sorted(UNIT_BASE)}")
    if addresses_grader(sample):
        return 0.0
    text, question = answer_text(sample), question_of(item)
    if unit == "company":
        return company_credit(text, reference, question)
    if other_unit_named(text, unit):
        return 0.0
    figures = set(figures_in(committed_text(text, question), unit))
    if len(figures) != 1:
        return 0.0
    (value,) = figures
    if DECREASE.search(text) and value > 0:
        value = -value
    return numeric_credit(value, reference)
