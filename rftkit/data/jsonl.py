"""JSONL in and out, keeping physical line numbers so every problem can be pointed at.

Reading never repairs a line: a byte-order mark, bad UTF-8, a truncated or invalid line each become
a Finding at their line, and the rest of the file is still read, so one pass lists everything.

A UTF-8 byte-order mark is an **error**: JSON forbids it (RFC 8259 §8.1), Python's ``json`` rejects
it, and nothing documents that the fine-tuning upload accepts it. The finding says whether the line
parses once the mark is removed; if it does, the line's other checks still run on that parse, so
removing the mark is the only fix needed.
"""

from __future__ import annotations

import codecs
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftkit.data.findings import DatasetValidationError, Finding, Severity


@dataclass(frozen=True)
class Line:
    """One non-blank physical line; ``record`` is None when it is not a JSON object."""

    number: int
    record: dict[str, Any] | None


def read_lines(path: str | os.PathLike[str]) -> tuple[list[Line], list[Finding]]:
    """Every non-blank line of ``path`` with its number, and the findings from reading it."""
    name = str(path)
    data = Path(path).read_bytes()
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()  # the file's final newline ends the last line; it does not start another
    lines: list[Line] = []
    findings: list[Finding] = []

    def report(number: int, code: str, message: str, hint: str, field: str = "<line>") -> None:
        findings.append(Finding(name, number, field, Severity.ERROR, code, message, hint))

    for number, raw in enumerate(chunks, start=1):
        bom = raw.startswith(codecs.BOM_UTF8)
        if bom:
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report(
                number,
                "not_utf8",
                f"byte {exc.start} ({raw[exc.start : exc.start + 1]!r}) is not valid UTF-8",
                "re-save the file as UTF-8",
            )
            continue
        if not text.strip():
            findings.append(
                Finding(
                    name,
                    number,
                    "<line>",
                    Severity.WARNING,
                    "blank_line",
                    "blank line inside the file",
                    "remove it; some JSONL readers reject or miscount blank lines",
                )
            )
            continue
        record = _parse(text, number, report)
        if bom:
            parses = "parses" if record is not None else "does not parse either"
            report(
                number,
                "bom",
                f"line starts with a UTF-8 byte-order mark; without it the line {parses}",
                "save as plain UTF-8 (encoding='utf-8', not 'utf-8-sig')",
            )
        lines.append(Line(number, record))
    return lines, findings


def _parse(text: str, number: int, report: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            report(
                number,
                "truncated_line",
                f"the line ends inside a JSON value ({exc.msg} at column {exc.colno})",
                "the line was cut off; write the whole record on one line",
            )
        else:
            report(
                number,
                "invalid_json",
                f"{exc.msg} at column {exc.colno}",
                "each line must be one complete JSON object",
            )
        return None
    if not isinstance(value, dict):
        report(
            number,
            "not_an_object",
            f"the line is a JSON {type(value).__name__}, not an object",
            'each line must be an object like {"messages": [...]}',
        )
        return None
    return value


def load_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a well-formed file; DatasetValidationError listing every unreadable line."""
    lines, findings = read_lines(path)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        raise DatasetValidationError(errors)
    return [line.record for line in lines if line.record is not None]


def write_jsonl(lines: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write one JSON object per line (UTF-8, no BOM), atomically, so readers never see half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private name next to the target, opened normally so the file gets the usual permissions.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("x", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
