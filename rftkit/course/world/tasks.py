"""Question/answer tasks over a world, with exact canonical answers.

Answer rules (``answer`` is the canonical string, ``answer_value`` its float):
- money: USD millions with one decimal ('1234.5', '-12.3'); differences are exact;
- headcount: whole people ('4210');
- growth: percent change, one decimal, round-half-even on exact Decimals ('12.3', '-4.0');
- comparison: the winner's exact full name, ``unit`` 'company', ``answer_value`` the
  winner's figure.
Restated figures count: a question about a corrected quarter is answered with the restated
value, which the full corpus prints only in the following quarter's report.

``evidence``/``min_tool_calls`` describe the full corpus and ``compact_evidence``/
``compact_min_tool_calls`` the compact one (where restatements are already applied). The
minimum is what an agent that knows the layout needs: one read (or search hit) per evidence
file plus one calculator call for a difference or growth rate.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from .facts import METRICS, Company, World
from .numbers import growth_percent, plain
from .render import report_path

TASK_TYPES = ("lookup", "difference", "growth", "comparison", "multi_hop")
TIERS = {"lookup": 1, "difference": 2, "growth": 2, "comparison": 2, "multi_hop": 3}
# One cycle of task types; a default set is ten cycles. Any ``n`` gives a prefix of it.
PATTERN = (
    "lookup", "difference", "comparison", "lookup", "growth",
    "multi_hop", "lookup", "difference", "comparison", "growth",
)  # fmt: skip
DEFAULT_N = 100
RESTATED_EVERY = 3  # every third lookup and difference targets a restated figure
MAX_TRIES = 200
SEGMENTS = ("segment0", "segment1")
GROWTH_METRICS = ("revenue", "headcount", *SEGMENTS)
INCOME = ("operating_income", "net_income")

Ref = tuple[str, str, str]  # (company id, quarter, metric or segment key)


@dataclass(frozen=True)
class Task:
    """One question with its exact answer and the files that justify it."""

    id: str
    question: str
    answer: str
    answer_value: float
    unit: str  # 'USD millions', 'people', '%' or 'company'
    task_type: str
    tier: int
    company_ids: tuple[str, ...]
    quarters: tuple[str, ...]
    evidence: tuple[str, ...]
    min_tool_calls: int
    compact_evidence: tuple[str, ...]
    compact_min_tool_calls: int
    uses_restatement: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def as_line(self, **options: Any) -> dict[str, Any]:
        """This task as a course dataset line (:func:`rftkit.course.dataset.course_line`), so the
        kit's ``build_dataset`` builds it without knowing the course."""
        from rftkit.course.dataset import course_line  # that module imports this one

        return course_line(self, **options)


def generate_tasks(world: World, seed: int, n: int | None = None) -> list[Task]:
    """``n`` distinct tasks (default 100) cycling through PATTERN, ids t0001, t0002, ..."""
    rng = random.Random(seed)
    has_fixes = bool(world.restatements)
    counts = dict.fromkeys(TASK_TYPES, 0)
    tasks: list[Task] = []
    questions: set[str] = set()
    total = DEFAULT_N if n is None else n
    while len(tasks) < total:
        task_type = PATTERN[len(tasks) % len(PATTERN)]
        restated = has_fixes and counts[task_type] % RESTATED_EVERY == RESTATED_EVERY - 1
        task_id = f"t{len(tasks) + 1:04d}"
        for _ in range(MAX_TRIES):
            task = GENERATORS[task_type](world, rng, task_id, restated)
            if task is not None and task.question not in questions:
                break
        else:
            raise ValueError(f"world too small for {total} distinct tasks")
        questions.add(task.question)
        counts[task_type] += 1
        tasks.append(task)
    return tasks


def _figure(world: World, company_id: str, quarter: str, metric: str) -> Decimal | int:
    facts = world.fact(company_id, quarter)
    if metric in SEGMENTS:
        return facts.segment_revenue[SEGMENTS.index(metric)]
    return facts.value(metric)


def _label(company: Company, metric: str) -> str:
    if metric in SEGMENTS:
        return f"{company.segments[SEGMENTS.index(metric)]} segment revenue"
    return metric.replace("_", " ")


def _unit(metric: str) -> str:
    return "people" if metric == "headcount" else "USD millions"


def _source(world: World, ref: Ref, style: str) -> str:
    """The file holding the authoritative figure: a restated one lives in the next report."""
    company_id, quarter, metric = ref
    company = world.company(company_id)
    fix = world.restatement(company_id, quarter)
    if style == "full" and fix is not None and fix.metric == metric:
        return report_path(company, world.quarters[world.quarters.index(quarter) + 1])
    return report_path(company, quarter)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _build(
    world: World,
    task_id: str,
    task_type: str,
    question: str,
    answer: tuple[str, float, str],
    refs: list[Ref],
    calculator_calls: int,
) -> Task:
    """Fill in the bookkeeping fields that follow from the figures a task relies on."""
    text, value, unit = answer
    full_sources = [_source(world, ref, "full") for ref in refs]
    compact_sources = [_source(world, ref, "compact") for ref in refs]
    full = tuple(sorted(_unique(full_sources)))
    compact = tuple(sorted(_unique(compact_sources)))
    return Task(
        id=task_id,
        question=question,
        answer=text,
        answer_value=value,
        unit=unit,
        task_type=task_type,
        tier=TIERS[task_type],
        company_ids=_unique(ref[0] for ref in refs),
        quarters=tuple(sorted(_unique(ref[1] for ref in refs))),
        evidence=full,
        min_tool_calls=len(full) + calculator_calls,
        compact_evidence=compact,
        compact_min_tool_calls=len(compact) + calculator_calls,
        uses_restatement=full_sources != compact_sources,
    )


def _amount(value: Decimal | int, metric: str) -> tuple[str, float, str]:
    return plain(value), float(value), _unit(metric)


def _lookup(world: World, rng: random.Random, task_id: str, restated: bool) -> Task:
    if restated:
        fix = rng.choice(list(world.restatements.values()))
        ref = (fix.company_id, fix.quarter, fix.metric)
    else:
        metric = rng.choice(METRICS + SEGMENTS)
        ref = (rng.choice(world.companies).id, rng.choice(world.quarters), metric)
    company_id, quarter, metric = ref
    company = world.company(company_id)
    question = (
        f"What was the {_label(company, metric)} of {company.name} in {quarter} ({_unit(metric)})?"
    )
    answer = _amount(_figure(world, *ref), metric)
    return _build(world, task_id, "lookup", question, answer, [ref], 0)


def _two_quarters(
    world: World, rng: random.Random, restated: bool, metrics: tuple[str, ...]
) -> tuple[Company, str, str, str]:
    """A company, a metric and an ordered pair of quarters (one of them restated if asked)."""
    if restated:
        fix = rng.choice(list(world.restatements.values()))
        other = rng.choice([q for q in world.quarters if q != fix.quarter])
        first, second = sorted((fix.quarter, other))
        return world.company(fix.company_id), fix.metric, first, second
    first, second = sorted(rng.sample(world.quarters, 2))
    return rng.choice(world.companies), rng.choice(metrics), first, second


def _difference(world: World, rng: random.Random, task_id: str, restated: bool) -> Task:
    company, metric, first, second = _two_quarters(world, rng, restated, METRICS)
    refs = [(company.id, first, metric), (company.id, second, metric)]
    before, after = (_figure(world, *ref) for ref in refs)
    question = (
        f"By how much did the {_label(company, metric)} of {company.name} change from"
        f" {first} to {second} ({_unit(metric)}, later minus earlier)?"
    )
    answer = _amount(after - before, metric)
    return _build(world, task_id, "difference", question, answer, refs, 1)


def _growth(world: World, rng: random.Random, task_id: str, restated: bool) -> Task:
    company, metric, first, second = _two_quarters(world, rng, False, GROWTH_METRICS)
    refs = [(company.id, first, metric), (company.id, second, metric)]
    percent = growth_percent(*(_figure(world, *ref) for ref in refs))
    question = (
        f"What was the percentage change in the {_label(company, metric)} of {company.name}"
        f" from {first} to {second} (percent, one decimal)?"
    )
    answer = (plain(percent), float(percent), "%")
    return _build(world, task_id, "growth", question, answer, refs, 1)


def _twin_pairs(world: World) -> list[tuple[Company, Company]]:
    """Pairs of near-identical names, e.g. 'Norvale Systems' and 'Norvale Systems Group'."""
    return [
        (base, twin)
        for base in world.companies
        for twin in world.companies
        if twin.name.startswith(base.name + " ")
    ]


def _some_companies(world: World, rng: random.Random, k: int) -> list[Company]:
    """``k`` distinct companies in random order, half the time including a twin pair."""
    pairs = _twin_pairs(world)
    if pairs and rng.random() < 0.5:
        chosen = list(rng.choice(pairs))
        chosen += rng.sample([c for c in world.companies if c not in chosen], k - 2)
    else:
        chosen = rng.sample(world.companies, k)
    rng.shuffle(chosen)
    return chosen


def _comparison(world: World, rng: random.Random, task_id: str, restated: bool) -> Task | None:
    first, second = _some_companies(world, rng, 2)
    metric = rng.choice(METRICS)
    quarter = rng.choice(world.quarters)
    refs = [(first.id, quarter, metric), (second.id, quarter, metric)]
    values = [_figure(world, *ref) for ref in refs]
    if values[0] == values[1]:
        return None
    winner, value = max(zip((first, second), values, strict=True), key=lambda pair: pair[1])
    question = (
        f"Which company had the higher {_label(first, metric)} in {quarter}:"
        f" {first.name} or {second.name}?"
    )
    answer = (winner.name, float(value), "company")
    return _build(world, task_id, "comparison", question, answer, refs, 0)


def _multi_hop(world: World, rng: random.Random, task_id: str, restated: bool) -> Task | None:
    """Either 'best of three companies in a quarter' or 'best quarter of a year', then a hop."""
    if rng.random() < 0.5:
        return _best_company(world, rng, task_id)
    return _best_quarter(world, rng, task_id)


def _best_company(world: World, rng: random.Random, task_id: str) -> Task | None:
    trio = _some_companies(world, rng, 3)
    quarter = rng.choice(world.quarters)
    rank = rng.choice(("revenue", "headcount"))
    target = rng.choice(INCOME)
    scores = [_figure(world, c.id, quarter, rank) for c in trio]
    if scores.count(max(scores)) > 1:
        return None
    winner = trio[scores.index(max(scores))]
    refs = [(c.id, quarter, rank) for c in trio] + [(winner.id, quarter, target)]
    names = f"{trio[0].name}, {trio[1].name} and {trio[2].name}"
    question = (
        f"Of {names}, take the company with the highest {_label(winner, rank)} in {quarter}."
        f" What was its {_label(winner, target)} in that quarter ({_unit(target)})?"
    )
    answer = _amount(_figure(world, winner.id, quarter, target), target)
    return _build(world, task_id, "multi_hop", question, answer, refs, 0)


def _best_quarter(world: World, rng: random.Random, task_id: str) -> Task | None:
    company = rng.choice(world.companies)
    years = [q[:4] for q in world.quarters if q.endswith("-Q2")]  # years with >= 2 quarters
    year = rng.choice(years)
    quarters = [q for q in world.quarters if q.startswith(year)]
    revenues = [_figure(world, company.id, q, "revenue") for q in quarters]
    if revenues.count(max(revenues)) > 1:
        return None
    best = quarters[revenues.index(max(revenues))]
    target = rng.choice(INCOME)
    refs = [(company.id, q, "revenue") for q in quarters] + [(company.id, best, target)]
    question = (
        f"In the quarter of {year} in which {company.name} had its highest revenue, what was"
        f" its {_label(company, target)} ({_unit(target)})?"
    )
    answer = _amount(_figure(world, company.id, best, target), target)
    return _build(world, task_id, "multi_hop", question, answer, refs, 0)


GENERATORS: dict[str, Callable[[World, random.Random, str, bool], Task | None]] = {
    "lookup": _lookup,
    "difference": _difference,
    "growth": _growth,
    "comparison": _comparison,
    "multi_hop": _multi_hop,
}
