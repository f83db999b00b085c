"""The documents the tools serve, loaded once and kept in memory.

``read_file`` never touches the filesystem with a path the model wrote: the corpus is read at
start-up (regular files under the root only; symlinks are skipped) and every later lookup is a
dictionary lookup on a normalised relative path. Hostile paths are refused with a reason the
model can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rftkit.toolserver.registry import ToolInputError

SUFFIXES = (".md", ".txt")
_WORD = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")


def words(text: str) -> set[str]:
    """Lower-case words; hyphenated ones also count by their parts ('beltas-machines')."""
    found = set(_WORD.findall(text.lower()))
    return found | {part for word in found if "-" in word for part in word.split("-")}


@dataclass(frozen=True)
class Line:
    """One searchable line: where it is, its text, and its words plus its file path's words."""

    path: str
    number: int
    text: str
    words: frozenset[str]


@dataclass(frozen=True)
class Corpus:
    """Relative POSIX path → text, plus the directory listing derived from it."""

    root: Path
    files: dict[str, str]
    lines: tuple[Line, ...] = field(repr=False, default=())

    @classmethod
    def load(cls, root: str | Path) -> Corpus:
        root = Path(root).resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"corpus directory {root} does not exist")
        files = {}
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.suffix not in SUFFIXES:
                continue
            if any(part.is_symlink() for part in path.relative_to(root).parents if part != Path()):
                continue
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        if not files:
            raise FileNotFoundError(f"corpus directory {root} holds no {'/'.join(SUFFIXES)} files")
        lines = []
        for path, text in files.items():
            path_words = words(path.removesuffix(PurePosixPath(path).suffix))
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    lines.append(
                        Line(path, number, line.strip(), frozenset(words(line) | path_words))
                    )
        return cls(root, files, tuple(lines))

    def normalise(self, path: str, *, param: str = "path") -> str:
        """A safe relative path, or ToolInputError saying why not."""
        if "\x00" in path:
            raise ToolInputError("path contains a NUL byte", param=param, code="invalid_path")
        if "%" in path:
            raise ToolInputError(
                "path must be plain text, not URL-encoded", param=param, code="invalid_path"
            )
        if "\\" in path:
            raise ToolInputError(
                "use '/' to separate directories", param=param, code="invalid_path"
            )
        pure = PurePosixPath(path.strip())
        if pure.is_absolute():
            raise ToolInputError(
                "path must be relative to the corpus, e.g. 'reports/'",
                param=param,
                code="invalid_path",
            )
        if ".." in pure.parts:
            raise ToolInputError("path may not contain '..'", param=param, code="invalid_path")
        return "" if str(pure) == "." else str(pure)

    def read(self, path: str) -> str:
        key = self.normalise(path)
        if key not in self.files:
            hint = self._closest_directory(key)
            raise ToolInputError(
                f"no file {key!r}; list_files('{hint}') shows what exists",
                param="path",
                code="not_found",
            )
        return self.files[key]

    def list(self, directory: str = "") -> list[str]:
        """Immediate children of ``directory``: files by name, directories with a trailing '/'."""
        prefix = self.normalise(directory, param="directory")
        prefix = f"{prefix}/" if prefix else ""
        children = set()
        for key in self.files:
            if key.startswith(prefix):
                head, sep, _ = key[len(prefix) :].partition("/")
                children.add(head + sep)
        if not children:
            raise ToolInputError(
                f"no directory {directory!r}; list_files('') shows the top level",
                param="directory",
                code="not_found",
            )
        return sorted(children)

    def _closest_directory(self, key: str) -> str:
        parent = str(PurePosixPath(key).parent)
        while parent not in ("", ".") and not any(f.startswith(parent + "/") for f in self.files):
            parent = str(PurePosixPath(parent).parent)
        return "" if parent == "." else parent
