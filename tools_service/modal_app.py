"""The tool service on Modal: the file you deploy.

Deploy (once per change)::

    export RFTKIT_TOOL_TOKEN=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    modal secret create rftkit-tool-token RFTKIT_TOOL_TOKEN="$RFTKIT_TOOL_TOKEN"
    modal deploy -m tools_service.modal_app

The URL is ``https://<workspace>--rftkit-tools.modal.run`` (``<workspace>-<env>--…`` outside the
default environment); point the job's tools at ``<url>/tools/<name>`` (or all at ``<url>/call``)
with the header ``Authorization: Bearer ${RFTKIT_TOOL_TOKEN}``. Check it with
``rftkit endpoints check <url> --rollouts 500`` before the job, and pre-warm with
:func:`prewarm` just before it starts.

What goes into the image, and why:

- Code: ``add_local_python_source("rftkit", "tools_service")``. Its default ``ignore`` keeps only
  ``.py`` files; that is all these packages need at run time, because the corpus is added on its
  own (below) rather than shipped as package data that would be silently dropped.
- Corpus: ``add_local_dir(..., copy=True)`` bakes the documents into an image layer, so every
  container starts with them and a deployment is tied to one corpus. By default the course's
  seeded world is rendered locally at deploy time (seed ``RFTKIT_WORLD_SEED``, style
  ``RFTKIT_CORPUS_STYLE``); set ``RFTKIT_CORPUS_DIR`` to deploy your own documents instead.
- Token: from the Modal secret ``rftkit-tool-token`` as ``RFTKIT_TOOL_TOKEN`` (never in code).
- State: a ``modal.Dict`` shared by all containers, because a rollout's calls may land on any
  container (:class:`~rftkit.toolserver.state.ModalDictStateStore`).

Offline (no Modal token) this module imports, its image and app are defined, and ``web.local()``
returns the same FastAPI app the tests exercise; there is no Modal emulator, so locally the app
keeps state in process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import modal
from fastapi import FastAPI

from rftkit.course.world import generate_world, write_corpus
from rftkit.toolserver.state import InMemoryStateStore, ModalDictStateStore
from tools_service.app import TOKEN_ENV, create_app

APP_NAME = "rftkit-tools"
LABEL = "rftkit-tools"
TOKEN_SECRET = "rftkit-tool-token"
STATE_DICT = "rftkit-tool-state"
CORPUS_IN_IMAGE = "/corpus"

# Burst shape (docs/hosted-api.md §4.3): ~100-500 rollouts start at each step boundary, each with
# one or a few parallel calls, then quiet while the model generates. A call costs a few ms of CPU.
AUTOSCALING = {
    # One container always warm: the first call of a job never waits for a cold start.
    "min_containers": 1,
    # While the app is busy, keep two idle containers ready, so the next step's burst lands
    # on warm containers while the autoscaler adds more.
    "buffer_containers": 2,
    # Cap on spend; 20 × 100 concurrent inputs is far above a 500-rollout burst.
    "max_containers": 20,
    # Steps are minutes apart: keep containers between bursts instead of scaling to zero.
    "scaledown_window": 300,
    # Well under Modal's 150 s web-request limit; a tool call should take well under a second.
    "timeout": 120,
}
CONCURRENCY = {
    # The handlers are async, so one container serves many calls on one event loop (tools run
    # in its thread pool). The autoscaler aims at 100 per container, and a container may take
    # up to 200 while new ones start — absorbing a burst instead of queueing it.
    "max_inputs": 200,
    "target_inputs": 100,
}


def _corpus_to_ship() -> Path:
    """The corpus directory to bake into the image (only evaluated on the deploying machine)."""
    own = os.environ.get("RFTKIT_CORPUS_DIR")
    if own:
        return Path(own)
    seed = int(os.environ.get("RFTKIT_WORLD_SEED", "0"))
    style = os.environ.get("RFTKIT_CORPUS_STYLE", "compact")
    scratch = tempfile.mkdtemp(prefix="rftkit-modal-corpus-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # after `modal deploy` uploads
    target = Path(scratch) / style
    write_corpus(generate_world(seed=seed), target, style=style)
    return target


LOCAL_CORPUS = _corpus_to_ship() if modal.is_local() else Path(CORPUS_IN_IMAGE)

image = (
    modal.Image.debian_slim(python_version="3.11")
    .uv_pip_install("fastapi==0.165.0", "pydantic==2.14.4", "anyio>=4.4")
    .add_local_dir(LOCAL_CORPUS, remote_path=CORPUS_IN_IMAGE, copy=True)
    .add_local_python_source("rftkit", "tools_service")
)
app = modal.App(APP_NAME, image=image)
state = modal.Dict.from_name(STATE_DICT, create_if_missing=True)


@app.function(
    secrets=[modal.Secret.from_name(TOKEN_SECRET, required_keys=[TOKEN_ENV])],
    **AUTOSCALING,
)
@modal.concurrent(**CONCURRENCY)
@modal.asgi_app(label=LABEL)
def web() -> FastAPI:
    """The tool service. On Modal: corpus from the image, state in the shared Dict."""
    if modal.is_local():
        return create_app(LOCAL_CORPUS, store=InMemoryStateStore())
    return create_app(CORPUS_IN_IMAGE, store=ModalDictStateStore(state))


def prewarm(containers: int = 5, buffer: int = 5) -> str:
    """Scale up before a training job starts; returns the URL. The next deploy resets it.

    Example: ``python -c "from tools_service.modal_app import prewarm; print(prewarm(10))"``.
    """
    deployed = modal.Function.from_name(APP_NAME, "web")
    deployed.update_autoscaler(min_containers=containers, buffer_containers=buffer)
    return deployed.get_web_url()
