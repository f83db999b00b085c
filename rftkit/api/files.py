"""``/v1/files``: fine-tuning data uploaded, listed, read back and deleted, kept in the data dir.

An upload with ``purpose="fine-tune"`` is checked line by line with the kit's RFT JSONL rules
(``rftkit.data.validate_file``, default profile: one platform's own rules, such as Azure's
10-line minimum, are warnings) before it is stored; a file with errors, or with no line at all,
is refused with 400 and up to five findings (line, field, what to fix), so nothing unusable gets
an id. The line-count
ceiling depends on the split and is checked when a job names the file. Each file is
``files/<id>.jsonl`` plus ``files/<id>.json`` (its file object), so files survive a restart.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import anyio
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from rftkit.api.errors import APIError, bad_request, not_found
from rftkit.api.pages import page
from rftkit.data import validate_file
from rftkit.data.findings import ValidationReport
from rftkit.graders.offload import ChildFailed, in_child

PURPOSE = "fine-tune"
MIB = 1024 * 1024
MAX_UPLOAD_BYTES = 512 * MIB
SPLIT_DEPENDENT = frozenset({"too_many_lines"})
"""Findings that depend on whether the file trains or validates: checked at job creation."""
_FILE_ID = re.compile(r"^file-[0-9a-f]{24}$")


class FileStore:
    """Uploaded files under ``root``; file objects in the API's ``file`` shape."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}
        for meta in sorted(self.root.glob("file-*.json")):
            record = json.loads(meta.read_text(encoding="utf-8"))
            if self.path(record["id"]).is_file():
                self.objects[record["id"]] = record

    def path(self, file_id: str) -> Path:
        return self.root / f"{file_id}.jsonl"

    def get(self, file_id: str, param: str = "id") -> dict[str, Any]:
        """The file object; 404 in the API's words when there is none."""
        if not _FILE_ID.match(file_id) or file_id not in self.objects:
            raise not_found(f"No such File object: {file_id}", param)
        return self.objects[file_id]

    def add(self, filename: str, source: BinaryIO) -> dict[str, Any]:
        """Copy ``source`` (at most MAX_UPLOAD_BYTES), validate it as RFT JSONL and store it;
        400 listing what is wrong otherwise. Blocking: a server calls it off its event loop."""
        if not filename.endswith(".jsonl"):
            raise bad_request(
                "Invalid file format for Fine-Tuning API. Must be .jsonl",
                "file",
                "invalid_file_format",
            )
        with tempfile.TemporaryDirectory(dir=self.root) as scratch:
            candidate = Path(scratch) / "upload.jsonl"
            size = _copy_capped(source, candidate, MAX_UPLOAD_BYTES)
            report = checked(candidate)
            errors = [f for f in report.errors if f.code not in SPLIT_DEPENDENT]
            if report.lines_read == 0 and not errors:
                raise bad_request(
                    f"Invalid file {filename}: it holds no line.", "file", "invalid_file_format"
                )
            if errors:
                raise bad_request(
                    invalid_file_message(filename, errors), "file", "invalid_file_format"
                )
            file_id = f"file-{secrets.token_hex(12)}"
            record = {
                "id": file_id,
                "object": "file",
                "bytes": size,
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": PURPOSE,
                "status": "processed",
                "status_details": None,
                "expires_at": None,
            }
            candidate.replace(self.path(file_id))
        with self._lock:
            (self.root / f"{file_id}.json").write_text(json.dumps(record), encoding="utf-8")
            self.objects[file_id] = record
        return record

    def delete(self, file_id: str) -> dict[str, Any]:
        self.get(file_id)
        with self._lock:
            self.objects.pop(file_id)
            self.path(file_id).unlink(missing_ok=True)
            (self.root / f"{file_id}.json").unlink(missing_ok=True)
        return {"id": file_id, "object": "file", "deleted": True}


CHECK_DEADLINE_S = 900.0
"""Longest a file check may take (a 512 MB file); the child is stopped after it."""


def checked(path: Path, **options: Any) -> ValidationReport:
    """``validate_file(path, **options)`` in a child process. The check is CPU-bound Python
    whose C loops over a large file's lines hold the GIL for up to a second at a time: in a
    thread it stalls the server's event loop all the same (measured: 1 s on a 31 MB upload)."""
    try:
        return in_child(partial(validate_file, path, **options), deadline_s=CHECK_DEADLINE_S)
    except ChildFailed as exc:
        raise APIError(500, f"The file check {exc}.", type="server_error") from None


def _copy_capped(source: BinaryIO, target: Path, cap: int) -> int:
    """Copy in 1 MB chunks; 400 as soon as more than ``cap`` bytes arrive."""
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(MIB):
            size += len(chunk)
            if size > cap:
                raise bad_request(
                    f"File is larger than the {cap // MIB} MB limit.", "file", "file_too_large"
                )
            out.write(chunk)
    return size


def invalid_file_message(filename: str, errors: list[Any], shown: int = 5) -> str:
    """The findings as one message naming the file, each line and field, and the fix."""
    parts = []
    for finding in errors[:shown]:
        where = f"line {finding.line}, {finding.field}" if finding.line is not None else "file"
        fix = f" (fix: {finding.hint})" if finding.hint else ""
        parts.append(f"{where}: {finding.message}{fix}")
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return f"Invalid file {filename}: {len(errors)} error(s): " + "; ".join(parts) + more


def store(request: Request) -> FileStore:
    return request.app.state.rftkit.files


router = APIRouter(prefix="/v1/files")


@router.post("")
async def upload(
    request: Request,
    file: Annotated[UploadFile, File()],
    purpose: Annotated[str, Form()],
) -> dict[str, Any]:
    if purpose != PURPOSE:
        raise bad_request(
            f"Unsupported purpose {purpose!r}: the local API keeps only fine-tuning data "
            f"(purpose='{PURPOSE}').",
            "purpose",
            "unsupported_value",
        )
    # The form parser has spooled the file to disk (the body limit capped it); copying and
    # checking it takes seconds for a large file, so it happens on a worker thread, one at a time.
    add = partial(store(request).add, file.filename or "upload.jsonl", file.file)
    return await anyio.to_thread.run_sync(add, limiter=request.app.state.rftkit.file_checks)


@router.get("")
def list_files(
    request: Request,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    files = [f for f in store(request).objects.values() if purpose in (None, f["purpose"])]
    files.sort(key=lambda f: (f["created_at"], f["id"]), reverse=order == "desc")
    return page(files, after=after, limit=limit)


@router.get("/{file_id}")
def retrieve(request: Request, file_id: str) -> dict[str, Any]:
    return store(request).get(file_id)


@router.get("/{file_id}/content")
def content(request: Request, file_id: str) -> FileResponse:
    files = store(request)
    files.get(file_id)
    return FileResponse(files.path(file_id), media_type="application/octet-stream")


@router.delete("/{file_id}")
def delete(request: Request, file_id: str) -> dict[str, Any]:
    return store(request).delete(file_id)
