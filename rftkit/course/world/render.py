"""Two markdown renderings of the same facts, and the corpus layout on disk.

``full`` is for real LLMs: prose, tables, segment figures beside totals, and restatement
notes, so careful reading is rewarded. Each full report prints its own quarter's figures as
originally published and, when the previous quarter was corrected, a note with the restated
figure; the restated figure is the one that counts for that previous quarter.

``compact`` is for a ~1M-parameter model: one ``<slug> <quarter> <key> <value>`` fact per
line (< 400 characters per file) with restatements already applied, so there is nothing
to reconcile across files.

Both styles share one layout: ``reports/<company slug>/<YYYY>-Q<n>.md``.
"""

from pathlib import Path

from .facts import Company, World
from .numbers import grouped, plain

STYLES = ("full", "compact")
METRIC_LABELS = {
    "revenue": "Revenue",
    "operating_income": "Operating income",
    "net_income": "Net income",
    "headcount": "Headcount",
}


def report_path(company: Company, quarter: str) -> str:
    """Path of a report relative to the corpus directory (same for both styles)."""
    return f"reports/{company.slug}/{quarter}.md"


def render_full(world: World, company: Company, quarter: str) -> str:
    """The human-style report for one company and quarter, as published at the time."""
    facts = world.fact(company.id, quarter)
    published = {metric: facts.value(metric) for metric in METRIC_LABELS}
    own = world.restatement(company.id, quarter)
    if own is not None:  # corrected only later, so this report still shows the original
        published[own.metric] = own.original
    shown = {metric: grouped(value) for metric, value in published.items()}
    net = published["net_income"]
    net_phrase = f"net income of {grouped(net)}" if net >= 0 else f"a net loss of {grouped(-net)}"
    staff = (facts.headcount + 50) // 100 * 100
    first, second = company.segments
    first_revenue, second_revenue = facts.segment_revenue
    lines = [
        f"# {company.name}: Quarterly Report {quarter}",
        "",
        f"Company: {company.name} | Ticker: {company.id} | Sector: {company.sector}",
        "",
        f"In {quarter}, {company.name} recorded revenue of {shown['revenue']} million US"
        f" dollars and {net_phrase} million US dollars. The company ended the quarter with"
        f" a workforce of roughly {grouped(staff)} people, and its {first} segment"
        f" contributed {grouped(first_revenue)} million US dollars of revenue.",
        "",
        "## Key figures",
        "",
        f"| Metric | {quarter} |",
        "| --- | --- |",
        f"| Revenue (USD millions) | {shown['revenue']} |",
        f"| Operating income (USD millions) | {shown['operating_income']} |",
        f"| Net income (USD millions) | {shown['net_income']} |",
        f"| Headcount (people) | {shown['headcount']} |",
        "",
        "## Revenue by segment",
        "",
        "| Segment | Revenue (USD millions) |",
        "| --- | --- |",
        f"| {first} | {grouped(first_revenue)} |",
        f"| {second} | {grouped(second_revenue)} |",
        f"| Total | {grouped(facts.revenue)} |",
    ]
    index = world.quarters.index(quarter)
    previous = world.restatement(company.id, world.quarters[index - 1]) if index else None
    if previous is not None:
        label = METRIC_LABELS[previous.metric]
        lines += [
            "",
            "## Restatement",
            "",
            f"{label} for {previous.quarter} has been restated to"
            f" {grouped(previous.restated)} USD millions (previously reported:"
            f" {grouped(previous.original)}). The restated figure supersedes the one in"
            f" the {previous.quarter} report.",
        ]
    return "\n".join(lines) + "\n"


def render_compact(world: World, company: Company, quarter: str) -> str:
    """One fact per line, restatements applied: short enough for a tiny model's context."""
    facts = world.fact(company.id, quarter)
    rows = [(metric, facts.value(metric)) for metric in METRIC_LABELS]
    rows += [
        (f"segment:{name.lower()}", value)
        for name, value in zip(company.segments, facts.segment_revenue, strict=True)
    ]
    return "".join(f"{company.slug} {quarter} {key} {plain(value)}\n" for key, value in rows)


def write_corpus(world: World, directory: str | Path, style: str = "full") -> list[Path]:
    """Write every company x quarter report under ``directory``; return the paths written."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    render = render_full if style == "full" else render_compact
    written = []
    for company in world.companies:
        for quarter in world.quarters:
            path = Path(directory) / report_path(company, quarter)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(world, company, quarter), encoding="utf-8", newline="\n")
            written.append(path)
    return written


def corpus_index(world: World) -> str:
    """A markdown table of the companies and their report folders, e.g. for a system prompt."""
    lines = ["| Company | Ticker | Sector | Reports |", "| --- | --- | --- | --- |"]
    lines += [f"| {c.name} | {c.id} | {c.sector} | reports/{c.slug}/ |" for c in world.companies]
    return "\n".join(lines) + "\n"
