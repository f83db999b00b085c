"""The seeded facts of a world: companies, quarters and their quarterly metrics.

All figures are generated as integers (tenths of a million USD, whole people) from one
``random.Random(seed)``, so a world is byte-identical across processes and hash seeds.

Restatement rule: a quarter's operating or net income may be corrected by the *next*
quarter's report. ``World.facts`` holds the authoritative (restated) values; the
superseded original survives only in ``Restatement.original`` and in that quarter's own
full report. Revenue is never restated, so segment revenues always sum to it.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .names import TWIN_SUFFIXES, make_stem, make_ticker, slugify
from .numbers import tenths

START_YEAR = 2024
METRICS = ("revenue", "operating_income", "net_income", "headcount")
RESTATABLE = ("operating_income", "net_income")
RESTATEMENT_RATE = 0.1


@dataclass(frozen=True)
class Sector:
    """An industry: the words its company names end with and its two revenue segments."""

    name: str
    words: tuple[str, ...]
    segments: tuple[str, str]


SECTORS = (
    Sector("Software", ("Systems", "Software", "Digital"), ("Cloud", "Licenses")),
    Sector("Energy", ("Energy", "Power"), ("Generation", "Retail")),
    Sector("Logistics", ("Logistics", "Freight"), ("Shipping", "Warehousing")),
    Sector("Healthcare", ("Health", "Medical"), ("Devices", "Services")),
    Sector("Consumer", ("Foods", "Brands"), ("Grocery", "Beverages")),
    Sector("Industrials", ("Machines", "Robotics"), ("Machinery", "Aftermarket")),
    Sector("Media", ("Media", "Studios"), ("Streaming", "Advertising")),
)


@dataclass(frozen=True)
class Company:
    """A fictional company; ``name`` is exact and may be a prefix of a twin's name."""

    id: str
    name: str
    slug: str
    sector: str
    segments: tuple[str, str]


@dataclass(frozen=True)
class QuarterFacts:
    """Authoritative figures of one company in one quarter (money in USD millions)."""

    revenue: Decimal
    operating_income: Decimal
    net_income: Decimal
    headcount: int
    segment_revenue: tuple[Decimal, Decimal]  # same order as Company.segments

    def value(self, metric: str) -> Decimal | int:
        """The figure named by one of ``METRICS``."""
        return getattr(self, metric)


@dataclass(frozen=True)
class Restatement:
    """A correction of ``quarter``'s ``metric``, published in the following quarter's report."""

    company_id: str
    quarter: str
    metric: str
    original: Decimal
    restated: Decimal


@dataclass(frozen=True)
class World:
    """Companies (sorted by name), consecutive quarters, and their authoritative facts."""

    seed: int
    companies: tuple[Company, ...]
    quarters: tuple[str, ...]
    facts: Mapping[tuple[str, str], QuarterFacts]  # (company id, quarter) -> facts
    restatements: Mapping[tuple[str, str], Restatement]  # keyed by the corrected quarter

    def company(self, company_id: str) -> Company:
        """Look a company up by its ticker-like id."""
        return next(c for c in self.companies if c.id == company_id)

    def fact(self, company_id: str, quarter: str) -> QuarterFacts:
        """Authoritative figures (restatements applied)."""
        return self.facts[(company_id, quarter)]

    def restatement(self, company_id: str, quarter: str) -> Restatement | None:
        """The correction of this quarter's figures, if a later report made one."""
        return self.restatements.get((company_id, quarter))

    def next_quarter(self, quarter: str) -> str | None:
        """The quarter after ``quarter`` within the world, or None for the last one."""
        index = self.quarters.index(quarter) + 1
        return self.quarters[index] if index < len(self.quarters) else None


def quarter_label(index: int) -> str:
    """Quarter number ``index`` counted from 2024-Q1, e.g. 5 -> '2025-Q2'."""
    return f"{START_YEAR + index // 4}-Q{index % 4 + 1}"


def generate_world(seed: int = 0, n_companies: int = 20, n_quarters: int = 8) -> World:
    """Build the world for ``seed``; the same arguments always give the same world."""
    if not 3 <= n_companies <= 200 or n_quarters < 2:
        raise ValueError("need 3-200 companies and at least 2 quarters")
    rng = random.Random(seed)
    quarters = tuple(quarter_label(i) for i in range(n_quarters))
    companies = _make_companies(rng, n_companies)
    facts: dict[tuple[str, str], QuarterFacts] = {}
    restatements: dict[tuple[str, str], Restatement] = {}
    for company in companies:
        _simulate(rng, company, quarters, facts, restatements)
    return World(seed, companies, quarters, facts, restatements)


def _make_companies(rng: random.Random, n: int) -> tuple[Company, ...]:
    """Unique base names plus about one in five near-identical 'twins' (base name + suffix)."""
    n_twins = n // 5
    stems: list[str] = []
    bases: list[tuple[str, str, Sector]] = []
    while len(bases) < n - n_twins:
        stem = make_stem(rng)
        if stem not in stems:
            stems.append(stem)
            sector = rng.choice(SECTORS)
            bases.append((stem, rng.choice(sector.words), sector))
    entries = [(f"{stem} {word}", stem, word, sector) for stem, word, sector in bases]
    for index in rng.sample(range(len(bases)), n_twins):
        stem, word, sector = bases[index]
        suffix = rng.choice(TWIN_SUFFIXES)
        entries.append((f"{stem} {word} {suffix}", stem, suffix, sector))
    entries.sort(key=lambda entry: entry[0])
    taken: set[str] = set()
    companies = []
    for name, stem, last_word, sector in entries:
        ticker = make_ticker(stem, last_word, taken)
        taken.add(ticker)
        companies.append(Company(ticker, name, slugify(name), sector.name, sector.segments))
    return tuple(companies)


def _simulate(
    rng: random.Random,
    company: Company,
    quarters: tuple[str, ...],
    facts: dict[tuple[str, str], QuarterFacts],
    restatements: dict[tuple[str, str], Restatement],
) -> None:
    """Random-walk one company's figures in integer tenths; maybe restate some quarters."""
    revenue = rng.randint(1500, 60000)
    margin = rng.randint(-40, 280)  # operating margin, per mille of revenue
    kept = rng.randint(600, 850)  # per mille of a profit left after tax and interest
    headcount = rng.randint(300, 30000)
    share = rng.randint(250, 750)  # first segment's share of revenue, per mille
    for index, quarter in enumerate(quarters):
        if index:
            revenue = revenue * (1000 + rng.randint(-70, 110)) // 1000
            headcount = headcount * (1000 + rng.randint(-40, 60)) // 1000
            margin = min(350, max(-80, margin + rng.randint(-25, 25)))
            share = min(850, max(150, share + rng.randint(-30, 30)))
        operating = revenue * margin // 1000
        loss_factor = rng.randint(1000, 1150)  # losses deepen through financing costs
        net = operating * (kept if operating > 0 else loss_factor) // 1000
        first = revenue * share // 1000
        figures = {"operating_income": operating, "net_income": net}
        if index < len(quarters) - 1 and rng.random() < RESTATEMENT_RATE:
            metric = rng.choice(RESTATABLE)
            original = figures[metric]
            step = max(1, abs(original) * rng.randint(10, 60) // 1000)
            figures[metric] = original + rng.choice((-1, 1)) * step
            restatements[(company.id, quarter)] = Restatement(
                company.id, quarter, metric, tenths(original), tenths(figures[metric])
            )
        facts[(company.id, quarter)] = QuarterFacts(
            revenue=tenths(revenue),
            operating_income=tenths(figures["operating_income"]),
            net_income=tenths(figures["net_income"]),
            headcount=headcount,
            segment_revenue=(tenths(first), tenths(revenue - first)),
        )
