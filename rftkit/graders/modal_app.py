"""Deploy a grader as an ``endpoint`` grader on Modal: ``modal deploy -m rftkit.graders.modal_app``.

Serves :func:`rftkit.course.grader.course_grader` (replace ``GRADER`` with yours) behind bearer
auth; the token comes from the Modal secret ``rftkit-grader-token`` (``GRADER_TOKEN``):
``modal secret create rftkit-grader-token GRADER_TOKEN=...``. The job then uses
``{"type": "endpoint", "url": "https://<workspace>--rftkit-grader.modal.run/grade",
"headers": {"Authorization": "Bearer <token>"}}``.

Importing this module needs no Modal token and no network (tested); ``web.local()`` returns the
FastAPI app. Python graders run sandboxed inside the container as they do locally: bubblewrap
is installed in the image and used where Modal's container runtime (gVisor) allows namespaces;
where it does not, the container itself is the boundary (it holds only this app and its token),
so the app is created with ``require_isolation=False``.
"""

from __future__ import annotations

import os

import modal

from rftkit.course.grader import course_grader
from rftkit.graders.server import create_grader_app

GRADER = course_grader()
SECRET_NAME = "rftkit-grader-token"

image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("bubblewrap")
    .pip_install(
        "fastapi>=0.132",
        "uvicorn>=0.30",
        "httpx>=0.27",
        "pydantic>=2.7",
        "openai>=2.0",
        "numpy",
        "rapidfuzz>=3.9",
        "nltk>=3.9",
        "rouge-score>=0.1.2",
    )
    .add_local_python_source("rftkit", "tools_service")
)
app = modal.App("rftkit-grader", image=image)


@app.function(
    secrets=[modal.Secret.from_name(SECRET_NAME, required_keys=["GRADER_TOKEN"])],
    min_containers=1,
    buffer_containers=1,
    max_containers=20,
    scaledown_window=300,
    timeout=600,
)
@modal.concurrent(max_inputs=50, target_inputs=25)
@modal.asgi_app(label="rftkit-grader")
def web():
    """The grader app; the token is read when the container starts (required there)."""
    token = os.environ.get("GRADER_TOKEN")
    if token is None and not modal.is_local():
        raise RuntimeError(f"GRADER_TOKEN is not set: attach the Modal secret {SECRET_NAME!r}")
    return create_grader_app(GRADER, token=token, require_isolation=False)
