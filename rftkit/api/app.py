"""The local fine-tuning API as one FastAPI app, and a way to run it on loopback.

``create_app`` wires the routes (files, fine-tuning jobs, graders, models, responses, chat) to
one data dir and one bearer key. ``serve_api`` runs it under uvicorn on loopback for a notebook, a
test or a benchmark and yields the base URL and key to hand to ``openai.OpenAI``.

Example::

    with serve_api(grpo={"triage_repeats": 2}) as api:
        client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key)
        client.models.list()
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request

from rftkit.api import files, graders, jobs, models, responses
from rftkit.api.errors import APIError, install_error_handlers
from rftkit.serving import serve_in_background

KEY_PREFIX = "rftkit-local-"


@dataclass
class ServerState:
    """What the routes share: the stores, the models and the key (never shown)."""

    files: files.FileStore
    jobs: jobs.JobStore
    models: models.ModelRegistry
    api_key: str = field(repr=False)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def require_key(request: Request) -> None:
    """Bearer auth with the server's own key; the API's 401 shapes, never echoing a key."""
    expected = request.app.state.rftkit.api_key
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not given:
        raise APIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def create_app(
    data_dir: str | Path, api_key: str, *, grpo: dict[str, Any] | None = None
) -> FastAPI:
    """The app over ``data_dir`` (files and checkpoints); ``grpo`` overrides GRPO-only
    settings of every job (``triage_repeats`` and the like; ``rftkit.local.hyperparameters``)."""
    if not api_key:
        raise ValueError("the local API needs a key: pass api_key= (rftkit.api.app.new_api_key())")
    root = Path(data_dir)
    file_store = files.FileStore(root / "files")
    job_store = jobs.JobStore(root / "jobs", file_store, grpo)
    app = FastAPI(title="rftkit local fine-tuning API", docs_url=None, redoc_url=None)
    app.state.rftkit = ServerState(file_store, job_store, models.ModelRegistry(job_store), api_key)
    install_error_handlers(app)
    secured = [Depends(require_key)]
    for module in (files, jobs, graders, models, responses):
        app.include_router(module.router, dependencies=secured)
    return app


@dataclass(frozen=True)
class LocalAPI:
    """A running server: ``base_url`` ends in ``/v1``, as ``openai.OpenAI`` expects."""

    base_url: str
    api_key: str = field(repr=False)
    data_dir: Path
    app: FastAPI = field(repr=False)


@contextmanager
def serve_api(
    data_dir: str | Path | None = None,
    *,
    api_key: str | None = None,
    grpo: dict[str, Any] | None = None,
    **uvicorn_config: Any,
) -> Iterator[LocalAPI]:
    """Serve the local API on loopback until the block ends (a fresh key unless given)."""
    with ExitStack() as stack:
        root = Path(data_dir or stack.enter_context(tempfile.TemporaryDirectory()))
        key = api_key or new_api_key()
        app = create_app(root, key, grpo=grpo)
        url = stack.enter_context(serve_in_background(app, **uvicorn_config))
        yield LocalAPI(f"{url}/v1", key, root, app)
