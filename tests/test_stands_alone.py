"""Nothing shipped points outside the repository, and every citation of ``docs/`` resolves.

A user's clone holds the repository and nothing beside it, so a docstring, comment, notebook cell
or README line that sends the reader to the developers' folder beside it, or cites a section of a
page the clone lacks, is a dead end. The facts live in ``docs/``; code cites them as
``docs/hosted-api.md §2.3``, and those citations must name a page and a heading that exist.

What counts as prose: Markdown, notebook markdown cells, comments, and string statements in
Python (docstrings); in other text files (templates, configuration, ``Makefile``) every line.
Paths to the development machine are looked for everywhere, code strings and notebook outputs
included; ``../`` escapes and § citations only in prose, since a code string such as a
path-traversal attack in a security test is data, not a reference.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = (".py", ".md", ".ipynb", ".tmpl", ".toml", ".cfg", ".yml", ".yaml")
NAMES = ("Makefile",)

# The developers' folder beside the repository and the pages it held, written so that a grep of
# the project for them finds only real references (this file is scanned like any other).
OUTSIDE = re.compile(
    r"(?<![\w-])share[d]/|openai-agent-rft-ap[i]|training-backend[s]|tooling[ _-]note[s]",
    re.IGNORECASE,
)
DEV = "share" + "d"
OLD_PAGE = "openai-agent-rft-" + "api.md"
UP_PATH = re.compile(r"(?<![\w./~])((?:\.\./)+[\w.\-/]*)")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
SECTION = r"§\s?\d+(?:\.\d+)*"
CHAIN = re.compile(rf"{SECTION}(?:\s*[-–]\s*§?\s?\d+(?:\.\d+)*|\s*(?:,|;|and|or)\s*{SECTION})*")
PAGE_BEFORE = re.compile(r"([\w./-]+\.md)[`'\")\]]*\s*\(?$")
RFC_BEFORE = re.compile(r"RFC\s?\d+\s*\(?$")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def shipped(root: Path = ROOT) -> list[Path]:
    """Tracked and not-ignored new text files of the checkout at ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    paths = (root / name for name in sorted(set(listed)) if name)
    return [p for p in paths if p.is_file() and (p.suffix in SUFFIXES or p.name in NAMES)]


def python_prose(source: str) -> str:
    """Comments and string statements (docstrings) of a Python source, one per line."""
    parts: list[str] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        parts += [t.string for t in tokens if t.type == tokenize.COMMENT]
        tree = ast.parse(source)
    except (SyntaxError, tokenize.TokenError):  # IPython magics and the like: keep # parts
        return "\n".join(line[line.index("#") :] for line in source.splitlines() if "#" in line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
            parts.append(node.value.value)
    return "\n".join(parts)


def prose(path: Path) -> str:
    """The part of ``path`` a reader follows as a reference (see the module docstring)."""
    return _prose(path, path.stat().st_mtime_ns)


@functools.cache
def _prose(path: Path, _version: int) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return python_prose(text)
    if path.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        return "\n".join(
            "".join(c["source"]) if c["cell_type"] == "markdown"
            else python_prose("".join(c["source"]))
            for c in cells
        )  # fmt: skip
    return text


def sections(page: Path) -> set[str]:
    return set(HEADING.findall(page.read_text(encoding="utf-8")))


def outside_references(path: Path, root: Path = ROOT) -> list[str]:
    """Paths to outside the repository: the developers' folder anywhere in the file, and ``../``
    paths in prose that climb above ``root`` from the file's folder."""
    where = path.relative_to(root)
    found = [f"{where}: {m.group(0)!r}" for m in OUTSIDE.finditer(path.read_text("utf-8"))]
    for match in UP_PATH.finditer(prose(path)):
        target = (path.parent / match.group(1)).resolve()
        if not target.is_relative_to(root.resolve()):
            found.append(f"{where}: {match.group(1)!r} leaves the repository")
    return found


def citation_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Each § citation must follow a Markdown page that exists (``docs/hosted-api.md §2``, read
    from the repository root or the file's folder) and whose headings hold every section it names,
    or an RFC; a bare § in a page of its own cites that page. Anything else cites nothing a user
    has."""
    text = " ".join(prose(path).split())
    where = path.relative_to(root)
    problems = []
    for match in CHAIN.finditer(text):
        before = text[max(0, match.start() - 80) : match.start()].rstrip()
        cited = match.group(0)
        if RFC_BEFORE.search(before):
            continue
        page_name = PAGE_BEFORE.search(before)
        if page_name:
            candidates = [root / page_name.group(1), path.parent / page_name.group(1)]
            page = next((p for p in candidates if p.is_file()), None)
            if page is None:
                problems.append(f"{where}: {page_name.group(1)} {cited}: no such page")
                continue
        elif path.suffix == ".md" and HEADING.search(path.read_text(encoding="utf-8")):
            page = path
        else:
            problems.append(f"{where}: …{before[-40:]} {cited}: cites no page in the repository")
            continue
        missing = [
            n for n in re.findall(r"\d+(?:\.\d+)*", cited) if n not in sections(page)
        ]  # fmt: skip
        if missing:
            rel = page.resolve().relative_to(root.resolve())
            problems.append(f"{where}: {rel} {cited}: no heading for §{', §'.join(missing)}")
    return problems


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative Markdown links in ``.md`` files and notebooks that point at nothing."""
    if path.suffix not in (".md", ".ipynb"):
        return []
    problems = []
    for target in MD_LINK.findall(prose(path)):
        if re.match(r"[a-z][a-z+.-]*:|#", target):  # a URL, mailto: or an anchor
            continue
        if not (path.parent / target.split("#")[0]).exists():
            problems.append(f"{path.relative_to(root)}: link to {target!r} points at nothing")
    return problems


FILES = shipped()


def test_the_scan_sees_the_project():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "rftkit/protocol.py", "docs/hosted-api.md", "Makefile"} <= names
    assert any(n.endswith(".ipynb") for n in names) and any(n.endswith(".tmpl") for n in names)


def test_nothing_shipped_points_outside_the_repository():
    hits = [hit for p in FILES for hit in outside_references(p)]
    assert not hits, "\n".join(hits)


def test_every_section_citation_names_a_page_and_heading_that_exist():
    problems = [problem for p in FILES for problem in citation_problems(p)]
    assert not problems, "\n".join(problems)


def test_every_relative_markdown_link_resolves():
    problems = [problem for p in FILES for problem in broken_links(p)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def tree(tmp_path):
    """A tiny repository with one docs page, for the checks' own tests."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n\n## 2. Jobs\n\n### 2.3 Knobs\n\nSee §2.\n")
    (tmp_path / "pkg").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "source",
    [
        f'"""Limits (see ``../{DEV}/reference/{OLD_PAGE}`` §3)."""\n',
        f"# facts: /work/{DEV}/reference/x.md\n",
        f'NOTE = "{OLD_PAGE} §1"\n',  # the old page names, even in code strings
        '"""As ``../../outside/notes.md`` says."""\n',  # climbs above the repository
    ],
)
def test_a_reference_outside_the_repository_is_caught(tree, source):
    module = tree / "pkg" / "mod.py"
    module.write_text(source)
    assert outside_references(module, tree)


@pytest.mark.parametrize(
    "source",
    [
        "from ..sibling import thing  # a relative import\n",
        'ATTACK = "../../../etc/passwd"  # data in code, not a reference\n',
        '"""Our page: ``../docs/api.md`` §2.3."""\n',
    ],
)
def test_legitimate_paths_pass(tree, source):
    module = tree / "pkg" / "mod.py"
    module.write_text(source)
    assert outside_references(module, tree) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"""Hyperparameters (reference §2.3)."""\n', "cites no page"),
        ('"""Spread over two\nlines (reference\n§4.4)."""\n', "cites no page"),
        ("x = 1  # docs/missing.md §2\n", "no such page"),
        ('"""See docs/api.md §2.4 and §9."""\n', "no heading for §2.4, §9"),
        ('"""See ``docs/api.md`` §2.3-§7."""\n', "no heading for §7"),
    ],
)
def test_a_citation_that_does_not_resolve_is_caught(tree, source, expected):
    module = tree / "pkg" / "mod.py"
    module.write_text(source)
    (problem,) = citation_problems(module, tree)
    assert expected in problem


def test_citations_that_resolve_pass(tree):
    module = tree / "pkg" / "mod.py"
    module.write_text(
        '"""Knobs (docs/api.md §2.3), jobs (``docs/api.md`` §2, §2.3); JSON (RFC 8259 §8.1)."""\n'
        'CODE = "§ in a code string is not a citation"\n'
    )
    assert citation_problems(module, tree) == []
    assert citation_problems(tree / "docs" / "api.md", tree) == []  # a bare § cites its own page


def test_a_notebook_is_read_in_its_markdown_and_comments_only(tree):
    notebook = tree / "pkg" / "nb.ipynb"
    cells = [
        {"cell_type": "markdown", "source": ["As collected in the reference §3.2."]},
        {"cell_type": "code", "source": ["x = '§9'  # see docs/api.md §2.3\n"], "outputs": []},
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    (problem,) = citation_problems(notebook, tree)
    assert "reference §3.2" in problem
