"""JSONL in and out, keeping physical line numbers so every problem can be pointed at.

Reading never repairs a line: a byte-order mark, bad UTF-8, a truncated or invalid line each become
a Finding at their line, and the rest of the file is still read, so one pass lists everything.

A UTF-8 byte-order mark is an **error**: JSON forbids it (RFC 8259 §8.1), Python's ``json`` rejects
it, and nothing documents that the fine-tuning upload accepts it. The finding says whether the line
parses once the mark is removed; if it does, the line's other checks still run on that parse, so
removing the mark is the only fix needed.

Each line is parsed by :func:`rftkit._util.jsonsafe.loads`, so no line can crash the reader: nesting
deeper than ``MAX_LINE_DEPTH`` and numbers of over 4,300 digits are errors at their line. So are
what strict JSON forbids or leaves undefined, which Python's ``json`` accepts without a word:
``NaN``/``Infinity`` (not JSON, RFC 8259 §6), a key twice in one object (parsers differ on which
value wins, RFC 8259 §4) and a ``\\u`` escape that leaves a lone surrogate (unpredictable, RFC 8259
§8.2; it cannot be written as UTF-8). For those three the line is still parsed as Python would and
checked.

A path that is not a regular file (a directory, ``/dev/zero``, a pipe) or cannot be read raises
:class:`UnreadableFileError` before anything is read, and a file over the Files API's 512 MB upload
limit is refused after reading at most one byte more than that.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftkit._util.jsonsafe import JSONLimitError, loads
from rftkit.data.findings import DatasetValidationError, Finding, Severity
from rftkit.errors import RFTKitError

MAX_FILE_BYTES = 512 * 1024 * 1024
"""The largest file the Files API takes ("Individual files can be up to 512 MB", POST /files)."""
MAX_LINE_DEPTH = 200
"""Far deeper than a dataset line needs (pydantic-core's parser stops at the same depth), and
shallow enough that every check that walks a line recursively stays within Python's stack."""

# What each refusal of rftkit._util.jsonsafe becomes: (finding code, hint, what to allow to
# read on).
_REFUSALS = {
    "too_deep": ("nesting_too_deep", "flatten the line; no RFT field needs this depth", None),
    "number_too_long": ("number_too_long", "write the number as a string", None),
    "non_finite": (
        "non_finite_number",
        "NaN and Infinity are not JSON: use null or a string",
        "allow_non_finite",
    ),
    "duplicate_key": (
        "duplicate_key",
        "keep one value per key; readers differ on which duplicate wins",
        "allow_duplicate_keys",
    ),
    "lone_surrogate": (
        "lone_surrogate",
        "a \\u escape for half a UTF-16 pair: fix the text's encoding",
        "allow_lone_surrogates",
    ),
}


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFileError(OSError, RFTKitError):
    """The path is not a regular file that can be read within the size limit."""


def read_file_bounded(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path``; UnreadableFileError naming why not.

    Checked before reading: a directory, device or pipe is refused without being opened for
    reading (``/dev/zero`` would never end), and no more than ``max_bytes + 1`` bytes are read.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "something else")
        raise UnreadableFileError(f"{path} is {kind}, not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise UnreadableFileError(f"{path}: over {max_bytes:,} bytes, the upload limit")
    return data


@dataclass(frozen=True)
class Line:
    """One non-blank physical line; ``record`` is None when it is not a JSON object."""

    number: int
    record: dict[str, Any] | None


def read_lines(path: str | os.PathLike[str]) -> tuple[list[Line], list[Finding]]:
    """Every non-blank line of ``path`` with its number, and the findings from reading it."""
    name = str(path)
    data = read_file_bounded(path)
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
        record, problems = parse_line(text, name, number)
        findings += problems
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


def parse_line(text: str, file: str, number: int) -> tuple[dict[str, Any] | None, list[Finding]]:
    """One line's record (None when it is no JSON object) and the findings from parsing it."""
    findings: list[Finding] = []

    def report(number: int, code: str, message: str, hint: str, field: str = "<line>") -> None:
        findings.append(Finding(file, number, field, Severity.ERROR, code, message, hint))

    return _parse(text, number, report), findings


def _parse(text: str, number: int, report: Any) -> dict[str, Any] | None:
    allowed: dict[str, bool] = {}
    while True:
        try:
            value = loads(text, max_bytes=MAX_FILE_BYTES, max_depth=MAX_LINE_DEPTH, **allowed)
            break
        except JSONLimitError as exc:
            code, hint, allow = _REFUSALS[exc.code]
            report(number, code, str(exc), hint, _field(exc.path))
            if allow is None:
                return None
            allowed[allow] = True  # report it, then read on as Python would
        except json.JSONDecodeError as exc:
            return _report_syntax(text, number, report, exc)
    if not isinstance(value, dict):
        report(
            number,
            "not_an_object",
            f"the line is a JSON {type(value).__name__}, not an object",
            'each line must be an object like {"messages": [...]}',
        )
        return None
    return value


def _field(path: str | None) -> str:
    """``$.messages[0].content`` as the validator names fields: ``messages[0].content``."""
    if not path or path == "$":
        return "<line>"
    return path.removeprefix("$").removeprefix(".").strip() or "<line>"


def _report_syntax(text: str, number: int, report: Any, exc: json.JSONDecodeError) -> None:
    """A truncated line (cut inside a value) or otherwise invalid JSON, at its column."""
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
