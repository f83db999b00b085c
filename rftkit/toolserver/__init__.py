"""The tool-server library: a toolbox of typed Python functions behind the HTTP contract the
Agent RFT trainer calls, with bearer auth, the 1 MB body guard, per-rollout state with caps, and
a request log.

A project's service is ``create_app(docs, toolbox=toolbox, resources=..., token=...)``; the
course's own tool service (``tools_service``) is built on it the same way.
"""

from rftkit.toolserver.app import ACCESS_LOG, CorpusRoute, create_app
from rftkit.toolserver.calls import MAX_OUTPUT_BYTES, truncate_output
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.errors import ERROR_STATUSES, ToolServiceError
from rftkit.toolserver.guards import TOKEN_ENV
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError
from rftkit.toolserver.resources import PerThread, Resources
from rftkit.toolserver.state import InMemoryStateStore, StateStore

__all__ = [
    "ACCESS_LOG",
    "ERROR_STATUSES",
    "MAX_OUTPUT_BYTES",
    "TOKEN_ENV",
    "Corpus",
    "CorpusRoute",
    "InMemoryStateStore",
    "PerThread",
    "Resources",
    "StateStore",
    "ToolContext",
    "ToolInputError",
    "ToolServiceError",
    "Toolbox",
    "create_app",
    "truncate_output",
]
