"""The ``local`` jobs backend: a GRPO run of the local model in a background thread.

Statuses follow the fine-tuning API (``validating_files → queued → running → succeeded | failed |
cancelled``, plus ``pausing``/``paused``). ``pause`` stops after the current step, keeping the
trainer (weights, optimizer, chosen tasks); ``resume`` continues from there. ``cancel`` stops for
good. Events are ``fine_tuning.job.event`` dicts, checkpoints ``fine_tuning.job.checkpoint``-like
dicts with the validation metrics, so ``rftkit.analysis`` reads them like a hosted job's.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rftkit.local.grpo import GRPOConfig, GRPOTrainer
from rftkit.local.pretrain import BASE_CHECKPOINT, load_model

JOB_STATUSES = (
    "validating_files",
    "queued",
    "running",
    "pausing",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)


class LocalJob:
    """One local training job; create it with :func:`launch`."""

    def __init__(
        self,
        *,
        model: str | Path = BASE_CHECKPOINT,
        hyperparameters: dict[str, Any] | None = None,
        grader: dict[str, Any] | None = None,
        out_dir: str | Path | None = None,
    ):
        self.id = f"ftjob-local-{uuid.uuid4().hex[:12]}"
        self.created_at = int(time.time())
        self.status = "validating_files"
        known = {f.name for f in dataclasses.fields(GRPOConfig)}
        unknown = sorted(set(hyperparameters or {}) - known)
        if unknown:
            raise ValueError(
                f"hyperparameters: unknown {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        self.config = GRPOConfig(**(hyperparameters or {}))
        base, tokenizer = load_model(model)
        self.out_dir = Path(out_dir or Path("runs") / self.id)
        self._stop = threading.Event()
        self._pause_at: int | None = None
        self._cancelled = False
        self.error: str | None = None
        self.trainer = GRPOTrainer(
            self.config,
            base,
            tokenizer,
            self.out_dir / "checkpoints",
            should_stop=self._should_stop,
            grader=grader,
        )
        self._thread: threading.Thread | None = None
        self.status = "queued"

    # -- the interface ---------------------------------------------------------------------
    def start(self, progress: bool = False) -> LocalJob:
        if self.status not in ("queued", "paused"):
            raise RuntimeError(
                f"job {self.id} is {self.status}; only a queued or paused job starts"
            )
        self._stop.clear()
        self.status = "running"
        self._thread = threading.Thread(target=self._run, args=(progress,), daemon=True)
        self._thread.start()
        return self

    def events(self, after: str | None = None) -> list[dict[str, Any]]:
        """Events in order; with ``after`` (an event id) only the later ones."""
        events = list(self.trainer.events)
        if after is not None:
            ids = [e["id"] for e in events]
            events = events[ids.index(after) + 1 :] if after in ids else events
        return events

    def stream(self, start: int = 0, poll: float = 0.2) -> Iterator[dict[str, Any]]:
        """Yield events from number ``start`` on, as they arrive, until the job stops running."""
        seen = start
        while True:
            running = self._thread is not None and self._thread.is_alive()
            events = self.trainer.events
            while seen < len(events):
                yield events[seen]
                seen += 1
            if not running:
                return
            time.sleep(poll)

    def checkpoints(self) -> list[dict[str, Any]]:
        return list(self.trainer.checkpoints)

    def pause(self, at_step: int | None = None) -> LocalJob:
        """Stop after the current step (or once ``at_step`` steps are done); ``resume`` continues
        with the same trainer: weights, optimizer state and chosen tasks."""
        if at_step is not None:
            self._pause_at = at_step
        elif self.status == "running":
            self.status = "pausing"
            self._stop.set()
        return self

    def _should_stop(self) -> bool:
        if self._pause_at is not None and self.trainer.step >= self._pause_at:
            self._pause_at = None
            self.status = "pausing"
            return True
        return self._stop.is_set()

    def resume(self, progress: bool = False) -> LocalJob:
        self.wait()
        return self.start(progress)

    def cancel(self) -> LocalJob:
        self._cancelled = True
        self._stop.set()
        if self.status in ("queued", "paused"):
            self.status = "cancelled"
        return self

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job stops running (finished, paused, cancelled or failed)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    # -- the worker ------------------------------------------------------------------------
    def _run(self, progress: bool) -> None:
        try:
            self.trainer.run(progress=progress)
        except Exception as exc:  # the job fails; the reason is kept and emitted, not raised
            self.error = f"{type(exc).__name__}: {exc}"
            self.trainer.emit(f"Job failed: {self.error}", level="error")
            self.status = "failed"
            return
        if self._cancelled:
            self.status = "cancelled"
        elif self.trainer.step >= self.config.steps:
            self.status = "succeeded"
        else:
            self.status = "paused"


def launch(backend: str = "local", *, progress: bool = False, **spec: Any) -> LocalJob:
    """Create and start a job on ``backend`` (today: ``local``)."""
    if backend != "local":
        raise ValueError(f"backend {backend!r} is not available here; known backends: local")
    return LocalJob(**spec).start(progress)
