"""Training files on a hosted platform: uploaded once per content, waited for until processed.

The file name carries the content's hash (``rftkit-<sha256[:16]>-train.jsonl``), so a second
launch of the same data finds the file by listing ``purpose="fine-tune"`` files instead of
uploading it again; a file the platform marked as failed is not reused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rftkit.jobs.hosted.api import HostedAPI, Progress
from rftkit.jobs.hosted.errors import HostedJobError

READY = frozenset({"processed"})
FAILED = frozenset({"error", "failed", "deleted", "deleting"})


def hashed_name(path: Path, split: str) -> str:
    """The upload name of ``path``: its content hash and split, so equal bytes share a name."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"rftkit-{digest}-{split}.jsonl"


def wait_processed(
    api: HostedAPI,
    file: dict,
    *,
    timeout: float = 600.0,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
) -> dict:
    """Poll until the file is processed; HostedJobError if it failed or took longer. The
    platform checks files in its own time, so this wait has its own ``timeout``; ``progress``
    hears the file's status at each poll."""
    started = time.monotonic()
    deadline = started + timeout
    while file.get("status") not in READY:
        if file.get("status") in FAILED:
            detail = file.get("status_details") or "no details given"
            raise HostedJobError(
                f"file {file.get('filename')} ({file['id']}) was not accepted: {detail}",
                kind="invalid",
            )
        if time.monotonic() > deadline:
            raise HostedJobError(
                f"file {file.get('filename')} ({file['id']}) is still {file.get('status')} after "
                f"{timeout:.0f} s; run the launch again later (the file will be reused)",
                kind="failed",
            )
        if progress is not None:
            progress(
                f"file {file.get('filename')} is {file.get('status')} on {api.name} "
                f"({time.monotonic() - started:.0f} s of {timeout:.0f} s)"
            )
        sleep(poll)
        file = api.retrieve_file(file["id"])
    return file


def ensure_file(api: HostedAPI, path: Path, split: str, **wait: Any) -> str:
    """The id of a processed file with ``path``'s content: reused if uploaded before."""
    name = hashed_name(path, split)
    known = [f for f in api.list_files() if f.get("filename") == name]
    usable = [f for f in known if f.get("status") not in FAILED]
    file = usable[0] if usable else api.upload_file(name, path.read_bytes())
    return wait_processed(api, file, **wait)["id"]
