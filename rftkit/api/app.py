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
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from pydantic import SecretStr

from rftkit.api import files, graders, job_store, jobs, models, responses
from rftkit.api.errors import install_error_handlers
from rftkit.api.guards import KeyAndBodyMiddleware
from rftkit.graders.offload import OffLoop
from rftkit.local.warmstart import WarmStartConfig, load_solver
from rftkit.outbound import OutboundPolicy
from rftkit.rollouts.solver import Solver
from rftkit.serving import serve_in_background

KEY_PREFIX = "rftkit-local-"


@dataclass
class ServerState:
    """What the routes share: the stores, the models, the key (never shown), the outbound
    policy, and the lanes that keep blocking work off the event loop."""

    files: files.FileStore
    jobs: job_store.JobStore
    models: models.ModelRegistry
    api_key: str = field(repr=False)
    outbound: OutboundPolicy
    off_loop: OffLoop = field(default_factory=OffLoop)
    file_checks: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))
    """Uploads are copied and checked on a worker thread, one at a time."""


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def create_app(
    data_dir: str | Path,
    api_key: str,
    *,
    grpo: dict[str, Any] | None = None,
    outbound: OutboundPolicy | None = None,
    max_running_jobs: int = job_store.MAX_RUNNING_JOBS,
    warm_start: str | Solver | None = None,
    warm_start_config: WarmStartConfig | None = None,
) -> FastAPI:
    """The app over ``data_dir`` (files and checkpoints); ``grpo`` overrides GRPO-only
    settings of every job (``triage_repeats`` and the like; ``rftkit.local.hyperparameters``).

    ``outbound`` says which tool and grader URLs the server calls (default: a loopback
    rehearsal's, ``OutboundPolicy()``: anything but link-local and metadata addresses; see
    ``rftkit.outbound``). At most ``max_running_jobs`` jobs train at once; the rest queue.
    ``warm_start`` (a team's reference solver, ``module:function``, loaded here so a bad name
    stops the server from starting) warm-starts every job's model from it; why it is the
    server's setting and not the request's: ``rftkit.api.job_store``.
    """
    if not api_key:
        raise ValueError("the local API needs a key: pass api_key= (rftkit.api.app.new_api_key())")
    root = Path(data_dir)
    policy = outbound or OutboundPolicy()
    file_store = files.FileStore(root / "files")
    solver = None if warm_start is None else load_solver(warm_start)
    jobs_kept = job_store.JobStore(
        root / "jobs", file_store, grpo, policy, max_running_jobs, solver, warm_start_config
    )
    state = ServerState(
        file_store, jobs_kept, models.ModelRegistry(jobs_kept), api_key, outbound=policy
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs_kept.close()
        state.off_loop.close()

    app = FastAPI(
        title="rftkit local fine-tuning API", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.rftkit = state
    install_error_handlers(app)
    app.add_middleware(KeyAndBodyMiddleware, key=SecretStr(api_key))  # outermost: before any read
    for module in (files, jobs, graders, models, responses):
        app.include_router(module.router)
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
    outbound: OutboundPolicy | None = None,
    max_running_jobs: int = job_store.MAX_RUNNING_JOBS,
    warm_start: str | Solver | None = None,
    warm_start_config: WarmStartConfig | None = None,
    **uvicorn_config: Any,
) -> Iterator[LocalAPI]:
    """Serve the local API on loopback until the block ends (a fresh key unless given);
    the options are :func:`create_app`'s."""
    with ExitStack() as stack:
        root = Path(data_dir or stack.enter_context(tempfile.TemporaryDirectory()))
        key = api_key or new_api_key()
        app = create_app(
            root, key, grpo=grpo, outbound=outbound, max_running_jobs=max_running_jobs,
            warm_start=warm_start, warm_start_config=warm_start_config,
        )  # fmt: skip
        url = stack.enter_context(serve_in_background(app, **uvicorn_config))
        yield LocalAPI(f"{url}/v1", key, root, app)
