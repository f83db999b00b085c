"""What a deployed tool service's filesystem holds, worked out offline from its image spec.

A tool that reads ``data/orders.db`` works in the tests because the file is next to the code;
deployed, it works only if the image ships it. These functions list the files an image would
hold, without a Modal token or a Docker daemon, and copy them into a folder laid out as the
container's filesystem, so a test can serve the tools from that copy alone and fail when a
file is missing:

- :func:`modal_image_files`: the files of a ``modal.Image`` added with ``add_local_dir``,
  ``add_local_file`` and ``add_local_python_source`` (``copy=False``, Modal's default: the files
  stay visible as the image's mount layers; a ``copy=True`` layer is built remotely and cannot
  be listed here, so it is refused rather than silently missed).
- :func:`dockerfile_files`: the files a Dockerfile's ``COPY`` lines take from the build
  context, after ``.dockerignore`` (Docker's own matching rules, as Modal's ``FilePatternMatcher``
  ports them). Only plain ``COPY <src>... <dest>`` from the context is understood; anything
  else (``--from``, ``ADD``, wildcards in a source) is refused by name.
- :func:`materialise`: those files copied to ``root`` + their path in the image.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from rftkit.errors import RFTKitError


class LayoutError(ValueError, RFTKitError):
    """An image spec this module cannot list faithfully; the message names what and where."""


def modal_image_files(image: Any) -> dict[str, Path]:
    """``{path in the container: local file}`` for every file ``image``'s mount layers add."""
    from modal._utils.async_utils import synchronizer  # Modal's own unwrapping of its objects
    from modal.image import _Image
    from modal.mount import _Mount

    files: dict[str, Path] = {}
    stack = [synchronizer._translate_in(image)]
    while stack:
        node = stack.pop()
        if isinstance(node, _Mount):
            for entry in node.entries:
                for local, remote in entry.get_files_to_upload():
                    files[str(PurePosixPath(remote))] = Path(local)
        elif isinstance(node, _Image):
            if "_copy_mount" in repr(node):  # the layer add_local_*(copy=True) makes
                raise LayoutError(
                    "the image has a copy=True layer: its files are added on Modal's builder "
                    "and cannot be listed offline; add them with copy=False"
                )
            stack.extend(node._deps() if node._deps else [])
    return files


def dockerfile_files(dockerfile: Path, context: Path | None = None) -> dict[str, Path]:
    """``{path in the image: local file}`` for the ``COPY`` lines of ``dockerfile``."""
    from modal import FilePatternMatcher

    context = dockerfile.parent if context is None else context
    ignore_file = context / ".dockerignore"
    ignored = FilePatternMatcher.from_file(ignore_file) if ignore_file.exists() else None
    workdir = PurePosixPath("/")
    files: dict[str, Path] = {}
    for number, instruction, words in _instructions(dockerfile):
        where = f"{dockerfile}:{number}"
        if instruction == "WORKDIR":
            workdir = workdir / words[0]
        elif instruction == "ADD":
            raise LayoutError(f"{where}: ADD is not listed here; use COPY")
        elif instruction == "COPY":
            if any(word.startswith("--") for word in words):
                raise LayoutError(f"{where}: COPY options ({words[0]}) are not listed here")
            *sources, dest = words
            target = workdir / dest
            for source in sources:
                if any(c in source for c in "*?["):
                    raise LayoutError(f"{where}: a wildcard source ({source}) is not listed here")
                found = _context_files(context, source, ignored)
                if not found:
                    raise LayoutError(f"{where}: COPY {source}: nothing in the build context")
                into = (context / source).is_dir() or dest.endswith("/") or len(sources) > 1
                for inside, local in found.items():  # a directory's contents, as Docker does
                    files[str(target / inside if into else target)] = local
    return files


def dockerfile_cmd(dockerfile: Path) -> list[str]:
    """The last ``CMD`` of ``dockerfile``, which must be in exec (JSON) form."""
    found = [words for _, instruction, words in _instructions(dockerfile) if instruction == "CMD"]
    if not found:
        raise LayoutError(f"{dockerfile}: no CMD")
    text = " ".join(found[-1])
    try:
        command = json.loads(text)
    except json.JSONDecodeError:
        raise LayoutError(f"{dockerfile}: CMD is not in exec form (a JSON list): {text}") from None
    return [str(word) for word in command]


def materialise(files: dict[str, Path], root: Path) -> Path:
    """Copy ``files`` under ``root`` at their paths in the image; returns ``root``."""
    for inside, local in files.items():
        target = root / PurePosixPath(inside).relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, target)
    return root


def _instructions(dockerfile: Path) -> list[tuple[int, str, list[str]]]:
    """(line number, INSTRUCTION, words) with comments dropped and ``\\`` continuations joined."""
    found: list[tuple[int, str, list[str]]] = []
    pending, start = "", 0
    for number, raw in enumerate(dockerfile.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = pending + line, ""
        instruction, _, rest = text.partition(" ")
        words = [rest.strip()] if instruction.upper() in ("CMD", "RUN") else shlex.split(rest)
        found.append((start, instruction.upper(), words))
    return found


def _context_files(context: Path, source: str, ignored: Any) -> dict[PurePosixPath, Path]:
    """The files under ``context/source`` that ``.dockerignore`` lets into the build context,
    keyed by their path relative to ``source`` (a directory) or by name (a file)."""
    root, base = context.resolve(), (context / source).resolve()
    candidates = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
    found: dict[PurePosixPath, Path] = {}
    for local in candidates:
        if not local.is_file():
            continue
        if ignored is not None and ignored(Path(local.relative_to(root).as_posix())):
            continue
        key = local.relative_to(base).as_posix() if base.is_dir() else local.name
        found[PurePosixPath(key)] = local
    return found
