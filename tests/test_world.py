"""Tests for rftkit.course.world: reproducibility, and answers re-derived from the rendered files.

The parsers below read only the markdown corpus (never the generator's facts or render
code), so a task passes only if its answer really follows from what an agent can read.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import pytest

from rftkit.course.world import (
    STYLES,
    TASK_TYPES,
    generate_tasks,
    generate_world,
    growth_percent,
    write_corpus,
)

ROOT = Path(__file__).resolve().parents[1]
COMPACT_LIMIT = 400
QUARTER = r"(\d{4}-Q[1-4])"
SECTION = re.compile(r"^## (.+)\n\n((?:.+\n?)+)", re.M)
METRIC_ROW = re.compile(r"^\| ([^|]+?) \| (-?[\d,]+(?:\.\d)?) \|$", re.M)
SEGMENT_ROW = re.compile(r"^\| (\w+) \| ([\d,]+\.\d) \|$", re.M)
DIGEST_SCRIPT = (
    "import sys, pathlib, test_world; print(test_world.corpus_digest(pathlib.Path(sys.argv[1])))"
)

Figures = dict[tuple[str, str], dict[str, Decimal]]


def corpus_digest(root: Path, seed: int = 0) -> str:
    """SHA-256 over both corpora (paths and bytes) and the task list for ``seed``."""
    world = generate_world(seed)
    for style in STYLES:
        write_corpus(world, root / style, style=style)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.md")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    tasks = [task.to_dict() for task in generate_tasks(world, seed)]
    digest.update(json.dumps(tasks, sort_keys=True).encode())
    return digest.hexdigest()


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_full(root: Path) -> tuple[Figures, Figures]:
    """(authoritative figures, figures as printed in their own report), keyed by name."""
    printed: Figures = {}
    corrections = []
    for path in sorted(root.glob("reports/*/*.md")):
        text = path.read_text(encoding="utf-8")
        name, quarter = re.search(rf"^# (.+): Quarterly Report {QUARTER}$", text, re.M).groups()
        assert path.as_posix().endswith(f"{slug(name)}/{quarter}.md")
        sections = dict(SECTION.findall(text))
        rows = dict(METRIC_ROW.findall(sections["Key figures"]))
        figures = {
            "revenue": number(rows["Revenue (USD millions)"]),
            "operating income": number(rows["Operating income (USD millions)"]),
            "net income": number(rows["Net income (USD millions)"]),
            "headcount": number(rows["Headcount (people)"]),
        }
        segments = dict(SEGMENT_ROW.findall(sections["Revenue by segment"]))
        total = number(segments.pop("Total"))
        assert len(segments) == 2
        assert sum(map(number, segments.values())) == total == figures["revenue"]
        figures |= {f"{seg.lower()} segment revenue": number(v) for seg, v in segments.items()}
        printed[(name, quarter)] = figures
        if "Restatement" in sections:
            label, old, value = re.match(
                rf"(Operating income|Net income) for {QUARTER} has been restated to"
                r" (-?[\d,]+\.\d) USD millions",
                sections["Restatement"],
            ).groups()
            assert old < quarter
            corrections.append((name, old, label.lower(), number(value)))
    final = {key: dict(figures) for key, figures in printed.items()}
    for name, old, label, value in corrections:
        assert printed[(name, old)][label] != value
        final[(name, old)][label] = value
    return final, printed


def parse_compact(root: Path) -> Figures:
    """Figures from ``<slug> <quarter> <key> <value>`` lines, keyed by slug."""
    figures: Figures = {}
    for path in sorted(root.glob("reports/*/*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            company, quarter, key, value = line.split(" ")
            assert path.as_posix().endswith(f"{company}/{quarter}.md")
            label = key.replace("_", " ")
            if label.startswith("segment:"):
                label = label.removeprefix("segment:") + " segment revenue"
            figures.setdefault((company, quarter), {})[label] = Decimal(value)
    for facts in figures.values():
        segments = [v for k, v in facts.items() if k.endswith("segment revenue")]
        assert len(segments) == 2 and sum(segments) == facts["revenue"]
    return figures


def percent_change(old: Decimal, new: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = 50
        value = ((new - old) * 100 / old).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return str(abs(value) if value.is_zero() else value)


PATTERNS = {
    "lookup": rf"What was the (.+?) of (.+) in {QUARTER} \((?:USD millions|people)\)\?",
    "difference": rf"By how much did the (.+?) of (.+) change from {QUARTER} to {QUARTER}"
    r" \((?:USD millions|people), later minus earlier\)\?",
    "growth": rf"What was the percentage change in the (.+?) of (.+) from {QUARTER} to"
    rf" {QUARTER} \(percent, one decimal\)\?",
    "comparison": rf"Which company had the higher (.+) in {QUARTER}: (.+) or (.+)\?",
    "best_company": rf"Of (.+), (.+) and (.+), take the company with the highest (.+) in"
    rf" {QUARTER}\. What was its (.+) in that quarter \((?:USD millions|people)\)\?",
    "best_quarter": r"In the quarter of (\d{4}) in which (.+) had its highest revenue, what was"
    r" its (.+) \((?:USD millions|people)\)\?",
}


def recompute(question: str, figures: Figures, key) -> tuple[str, str]:
    """(task type, answer) derived from the question text and parsed figures only."""
    kind, match = next(
        (kind, m) for kind, p in PATTERNS.items() if (m := re.fullmatch(p, question))
    )

    def fig(name: str, quarter: str, label: str) -> Decimal:
        return figures[(key(name), quarter)][label.lower()]

    if kind == "lookup":
        label, name, quarter = match.groups()
        return kind, str(fig(name, quarter, label))
    if kind == "difference":
        label, name, first, second = match.groups()
        return kind, str(fig(name, second, label) - fig(name, first, label))
    if kind == "growth":
        label, name, first, second = match.groups()
        return kind, percent_change(fig(name, first, label), fig(name, second, label))
    if kind == "comparison":
        label, quarter, *names = match.groups()
        values = [fig(name, quarter, label) for name in names]
        assert values[0] != values[1]
        return kind, names[values.index(max(values))]
    if kind == "best_company":
        *names, rank, quarter, target = match.groups()
        scores = [fig(name, quarter, rank) for name in names]
        assert scores.count(max(scores)) == 1
        return "multi_hop", str(fig(names[scores.index(max(scores))], quarter, target))
    year, name, target = match.groups()
    quarters = sorted(q for (k, q) in figures if k == key(name) and q.startswith(year))
    revenues = [fig(name, q, "revenue") for q in quarters]
    assert len(quarters) >= 2 and revenues.count(max(revenues)) == 1
    return "multi_hop", str(fig(name, quarters[revenues.index(max(revenues))], target))


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    """The default world, both corpora written once, and its default task list."""
    root = tmp_path_factory.mktemp("world")
    world = generate_world()
    for style in STYLES:
        write_corpus(world, root / style, style=style)
    return world, root, generate_tasks(world, seed=0)


def test_same_seed_gives_identical_bytes(tmp_path):
    def snapshot(root: Path) -> dict[str, bytes]:
        world = generate_world(7)
        paths = [p for s in STYLES for p in write_corpus(world, root / s, style=s)]
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}

    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert generate_tasks(generate_world(7), 3) == generate_tasks(generate_world(7), 3)


def test_reproducible_across_processes_and_hash_seeds(tmp_path):
    expected = corpus_digest(tmp_path / "here")
    for hash_seed in ("1", "31337"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
        out = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT, str(tmp_path / hash_seed)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == expected


def test_different_seeds_give_different_worlds():
    first, second = generate_world(0), generate_world(1)
    names = {c.name for c in first.companies}
    assert len(names & {c.name for c in second.companies}) < len(names) // 2
    assert generate_world(0).facts == first.facts != second.facts


def test_answers_follow_from_the_full_corpus(default):
    world, root, tasks = default
    final, printed = parse_full(root / "full")
    for task in tasks:
        kind, answer = recompute(task.question, final, lambda name: name)
        assert (kind, answer) == (task.task_type, task.answer), task.id
        if task.unit != "company":
            assert task.answer_value == float(task.answer)
    trapped = [t for t in tasks if t.task_type == "lookup" and t.uses_restatement]
    assert trapped
    for task in trapped:  # reading only the quarter's own report gives the superseded value
        assert recompute(task.question, printed, lambda name: name)[1] != task.answer


def test_answers_follow_from_the_compact_corpus(default):
    _, root, tasks = default
    figures = parse_compact(root / "compact")
    for task in tasks:
        assert recompute(task.question, figures, slug) == (task.task_type, task.answer), task.id


def test_coverage_and_evidence(default):
    world, root, tasks = default
    assert {t.task_type for t in tasks} == set(TASK_TYPES)
    assert {t.tier for t in tasks} == {1, 2, 3}
    assert [t.id for t in tasks] == [f"t{i:04d}" for i in range(1, len(tasks) + 1)]
    assert len({t.question for t in tasks}) == len(tasks)
    names = [c.name for c in world.companies]
    twins = [(a, b) for a in names for b in names if b.startswith(a + " ")]
    assert twins
    assert any(a in t.question and b in t.question for t in tasks for a, b in twins)
    for task in tasks:
        assert all((root / "full" / p).is_file() for p in task.evidence)
        assert all((root / "compact" / p).is_file() for p in task.compact_evidence)
        assert task.min_tool_calls >= len(task.evidence) >= 1
        if task.task_type == "lookup":  # the figure is printed in its evidence file
            shown = f"{Decimal(task.answer):,}"
            assert any(shown in (root / "full" / p).read_text() for p in task.evidence)
    assert generate_tasks(world, 0, n=17) == tasks[:17]


def test_growth_rounds_half_even_on_exact_decimals():
    assert growth_percent(Decimal("200.0"), Decimal("200.1")) == Decimal("0.0")  # 0.05
    assert growth_percent(Decimal("200.0"), Decimal("200.5")) == Decimal("0.2")  # 0.25
    assert str(growth_percent(Decimal("200.0"), Decimal("199.9"))) == "0.0"  # never -0.0
    assert growth_percent(40, 41) == Decimal("2.5")


def test_compact_reads_are_short(tmp_path):
    for seed in range(4):
        paths = write_corpus(generate_world(seed), tmp_path / str(seed), style="compact")
        assert max(len(p.read_text(encoding="utf-8")) for p in paths) < COMPACT_LIMIT
