"""Following a fine-tuning job through the API: its events as they arrive, and a live plot.

Works with any ``openai`` client — the local API, OpenAI or Azure — because it only calls
``jobs.retrieve`` and ``jobs.list_events`` (read raw: the SDK's models type ``status`` without
``pausing``/``paused``). Events come newest first from the API; :func:`follow_job` hands them
out oldest first, each once.

Example::

    plot = LivePlot()
    for event in follow_job(client, job_id):
        plot.add(event)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
from IPython.display import display

from rftkit.analysis.events import grader_frame, metrics_frame
from rftkit.analysis.plots import reward_curves

STOPPED = ("succeeded", "failed", "cancelled", "paused")


def job_status(client: Any, job_id: str) -> str:
    return client.fine_tuning.jobs.with_raw_response.retrieve(job_id).http_response.json()["status"]


def new_events(client: Any, job_id: str, seen: set[str]) -> list[dict[str, Any]]:
    """The events not in ``seen`` (which this updates), oldest first; pages until a seen one."""
    fresh = []
    for event in client.fine_tuning.jobs.list_events(job_id, limit=100):
        if event.id in seen:
            break
        fresh.append(event.model_dump())
    seen.update(e["id"] for e in fresh)
    return fresh[::-1]


def follow_job(
    client: Any,
    job_id: str,
    *,
    poll: float = 1.0,
    stop_on: tuple[str, ...] = STOPPED,
    seen: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the job's events oldest first as they arrive, until its status is in ``stop_on``
    (then the last events, and return). Events whose ids are in ``seen`` are skipped (pass the
    ids you already have to follow a resumed job on)."""
    seen = set() if seen is None else set(seen)
    while True:
        status = job_status(client, job_id)
        yield from new_events(client, job_id, seen)
        if status in stop_on:
            yield from new_events(client, job_id, seen)
            return
        time.sleep(poll)


class LivePlot:
    """Train and validation reward per step, redrawn in place as metrics events arrive."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._handle = None

    @property
    def seen(self) -> set[str]:
        """The ids of the events plotted so far."""
        return {e["id"] for e in self.events}

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("type") != "metrics":
            return
        with warnings.catch_warnings():  # no validation point yet: an empty legend is fine
            warnings.simplefilter("ignore", UserWarning)
            figure = reward_curves(metrics_frame(self.events), grader_frame(self.events))
        if self._handle is None:
            self._handle = display(figure, display_id=True)
        else:
            self._handle.update(figure)
        plt.close(figure)
