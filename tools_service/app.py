"""The course's tool service: the course's toolbox over its world corpora, on the kit's
tool-server library (:mod:`rftkit.toolserver`: routes, auth, guards, state, request log).

What is the course's here: the default toolbox (``search``, ``list_files``, ``read_file``,
``calculator``), the rule that those tools need a corpus, routing by ``world_seed`` when one URL
serves several worlds, and the access log's name (``tools_service.access``).

Example::

    app = create_app("world/compact", token="s3cret")
    with serve_in_background(app) as url:
        httpx.post(f"{url}/call", headers={"Authorization": "Bearer s3cret"}, json={
            "type": "function_call", "call_id": "call_1", "name": "calculator",
            "arguments": '{"expression": "2 + 3"}', "trace_id": "trace_1"})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from rftkit.protocol import MAX_PAYLOAD_BYTES
from rftkit.toolserver.app import CorpusRoute
from rftkit.toolserver.app import create_app as create_tool_app
from rftkit.toolserver.calls import MAX_OUTPUT_BYTES, truncate_output
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.errors import ERROR_STATUSES, ToolServiceError
from rftkit.toolserver.guards import TOKEN_ENV
from rftkit.toolserver.registry import Toolbox
from rftkit.toolserver.resources import Resources
from rftkit.toolserver.state import StateStore
from tools_service import tools

__all__ = [
    "ERROR_STATUSES",
    "MAX_OUTPUT_BYTES",
    "TOKEN_ENV",
    "ToolServiceError",
    "access_log",
    "create_app",
    "truncate_output",
    "world_route",
]

access_log = logging.getLogger("tools_service.access")
"""One JSON line per tool call: trace_id, call_id, tool, status, latency. Never headers."""


def world_route(corpora: Mapping[int, Corpus]) -> CorpusRoute:
    """Each call reads the corpus of its dataset line's ``world_seed`` (the trainer sends the
    line as ``item``); an unknown world is refused with 400 ``unknown_world``."""
    corpora = dict(corpora)

    def by_world(item: dict[str, Any]) -> Corpus:
        seed = item.get("world_seed")
        if isinstance(seed, int) and not isinstance(seed, bool) and seed in corpora:
            return corpora[seed]
        raise ToolServiceError(
            400,
            "unknown_world",
            f"this service serves worlds {sorted(corpora)}; the call's item.world_seed is {seed!r}",
            param="item.world_seed",
        )

    return CorpusRoute(by_world, sum(len(c.files) for c in corpora.values()))


def create_app(
    corpus_dir: str | Path | Corpus | Mapping[int, Corpus] | None = None,
    *,
    token: str | None = None,
    store: StateStore | None = None,
    toolbox: Toolbox = tools.toolbox,
    resources: Resources | Mapping[str, Any] | None = None,
    allow_no_auth: bool = False,
    max_body_bytes: int = MAX_PAYLOAD_BYTES,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
    run_tools_in_threads: bool = False,
) -> FastAPI:
    """The course's tool service over ``corpus_dir`` (a directory or a loaded Corpus), or over
    several worlds from one URL (``{world_seed: Corpus}``: one job-level tools config then serves
    a task whose lines come from several worlds). The other options are
    :func:`rftkit.toolserver.create_app`'s."""
    if corpus_dir is None and toolbox is tools.toolbox:
        raise ValueError(
            "the course's tools read documents: pass corpus_dir, or pass toolbox= with your own "
            "tools (and resources= for what they use)"
        )
    corpus = world_route(corpus_dir) if isinstance(corpus_dir, Mapping) else corpus_dir
    return create_tool_app(
        corpus,
        toolbox=toolbox,
        token=token,
        store=store,
        resources=resources,
        allow_no_auth=allow_no_auth,
        max_body_bytes=max_body_bytes,
        max_output_bytes=max_output_bytes,
        run_tools_in_threads=run_tools_in_threads,
        access_log=access_log,
    )
