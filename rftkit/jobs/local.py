"""The ``local`` jobs backend: a GRPO run of the local model in a background thread.

Statuses follow the fine-tuning API (``validating_files → queued → running → succeeded | failed |
cancelled``, plus ``pausing``/``paused``), and every change of status is an event, as on the hosted
API. ``pause`` stops after the current step, keeping the trainer (weights, optimizer, chosen
tasks); ``resume`` continues from there. ``cancel`` stops for good at the next safe point, within
a fraction of a second while rollouts run (they are dropped; no weights change after it), or
after the gradient step under way; ``cancel(wait=...)`` waits for that point.

Events are ``fine_tuning.job.event`` dicts, checkpoints ``fine_tuning.job.checkpoint``-like dicts
with the validation metrics, so ``rftkit.analysis`` reads them like a hosted job's.

A team's own task: the committed base model knows only the course's tools, so ``warm_start``
(the task's reference solver, ``module:function``) first makes a small model that calls the
team's tools (``rftkit.local.warmstart``), then GRPO trains it against the same tools and grader.
The job's last event before it ends counts the requests that reached the task's tool URLs, by
phase, as the rollout engine counted them where it sent them.
"""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rftkit.jobs.backend import Watching
from rftkit.local.checkpoint import BASE_CHECKPOINT, BASE_MODEL, BASE_TOOLS, load_model
from rftkit.local.grpo import Aborted, GRPOTrainer, NothingToLearn
from rftkit.local.hyperparameters import grpo_config
from rftkit.local.memory import release_free_memory, tune_malloc
from rftkit.local.warmstart import (
    WarmStartConfig,
    grpo_after_warm_start,
    held_out_accuracy,
    load_solver,
    solver_name,
    warm_start,
)
from rftkit.rollouts.solver import Solver
from rftkit.task import RFTTask

WARM_START_MODEL = "rftkit-tinylm-warmstart"
"""What a warm-started job's trained model id names as its base (``ft:rftkit-tinylm-warmstart:…``):
a model made by the job from the task's reference solver, not the committed base checkpoint."""

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


def local_checkpoint(model: str) -> tuple[Path, str | None]:
    """The checkpoint a task's ``model`` names locally, and a note when it stands in for another.

    ``rftkit-tinylm-base`` is the committed base model; a path to a ``.pt`` file is used as it
    is; any other id (a hosted model such as ``o4-mini-2025-04-16``) is trained as the base model.
    """
    if model == BASE_MODEL:
        return BASE_CHECKPOINT, None
    if model.endswith(".pt") and Path(model).is_file():
        return Path(model), None
    return BASE_CHECKPOINT, (
        f"model {model!r} is not available on the local engine; it trains {BASE_MODEL} in its place"
        " (with a warm start, a small model made from the task's reference solver)"
    )


def rehearsal_note(solver: str, tool_names: set[str]) -> str:
    """What a warm-started job is, and what it is not."""
    tools = ", ".join(sorted(tool_names)) or "none"
    return (
        f"Rehearsal of the hosted job: a small local model is warm-started from the task's"
        f" reference solver ({solver}) by calling the task's tools ({tools}) at their URLs, then"
        " trained by GRPO against those tools with the task's grader. The traffic, the grader"
        " and the failure semantics are the hosted job's; the model is a tiny one trained for"
        " minutes, so its accuracy says nothing about a hosted model's."
    )


def course_world_note(items: list[dict[str, Any]], tool_names: set[str]) -> str | None:
    """Why the local model cannot be expected to learn this task (None for a course-world task)."""
    if tool_names == BASE_TOOLS and all(
        isinstance(i.get("world_seed"), int) and i.get("corpus_style") == "compact" for i in items
    ):
        return None
    known = ", ".join(sorted(BASE_TOOLS))
    called = sorted(tool_names & BASE_TOOLS)
    never = sorted(tool_names - BASE_TOOLS)
    if not called:
        reach = (
            f"it calls none of this task's tools ({', '.join(never) or 'none'}), so its rollouts"
            " send no request to the task's tool URLs; the grader and GRPO updates run for real"
        )
    else:
        reach = (
            f"it can call this task's {', '.join(called)} (names it knows)"
            + (f" but never {', '.join(never)}" if never else "")
            + "; the grader and GRPO updates run for real"
        )
    return (
        "This is not a course-world task: the local model was pre-trained only on the course's"
        f" compact worlds and its tools ({known}): {reach}, but it will not learn the task."
        " Train it on the azure/openai or an open-weights backend."
    )


class LocalJob(Watching):
    """One local training job on a task; create it with :func:`launch`.

    ``env`` resolves the task's header references (default: the process environment); ``grpo``
    overrides GRPO settings after the hosted hyperparameters are mapped
    (``rftkit.local.hyperparameters``). ``warm_start`` (the task's reference solver, as
    ``module:function`` or the function) makes the starting model from the solver's transcripts
    through the task's tools (``rftkit.local.warmstart``; settings in ``warm_start_config``)
    instead of the committed base model, which knows only the course's tools.
    """

    def __init__(
        self,
        task: RFTTask,
        *,
        env: Mapping[str, str] | None = None,
        grpo: dict[str, Any] | None = None,
        out_dir: str | Path | None = None,
        warm_start: str | Solver | None = None,
        warm_start_config: WarmStartConfig | None = None,
    ):
        self.id = f"ftjob-local-{uuid.uuid4().hex[:12]}"
        self.created_at = int(time.time())
        self.finished_at: int | None = None
        self.status = "validating_files"
        self.task = task
        self.metadata = {"rftkit_task_hash": task.content_hash()}
        train, valid = task.items("train"), task.items("validation")
        self.config, notes = grpo_config(task, len(train), grpo)
        self.solver = None if warm_start is None else load_solver(warm_start)
        self.warm_start_config = warm_start_config or WarmStartConfig(seed=self.config.seed)
        if self.solver is not None:
            self.config = grpo_after_warm_start(self.config, grpo or {}, self.warm_start_config)
        self.warm_start: dict[str, Any] | None = None  # its summary, once made
        checkpoint, stand_in = local_checkpoint(task.model)
        if self.solver is not None:  # the base model is replaced before the first step
            checkpoint, stand_in = BASE_CHECKPOINT, (
                f"model {task.model!r} is not available on the local engine; it trains a small"
                " model warm-started from the task's reference solver in its place"
            )  # fmt: skip
        base, tokenizer = load_model(checkpoint)
        self.out_dir = Path(out_dir or Path("runs") / self.id)
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._pause_at: int | None = None
        self._cancelled = False
        self._status_lock = threading.Lock()
        self.error: str | None = None
        self.trainer = GRPOTrainer(
            self.config,
            base,
            tokenizer,
            self.out_dir / "checkpoints",
            train_items=train,
            valid_items=valid,
            tools=task.job_tools(env),
            grader=task.resolved_grader(env),
            should_stop=self._should_stop,
            should_abort=self._abort.is_set,
        )
        tool_names = {t.name for t in task.tools}
        if warm_start is not None:
            world_note = rehearsal_note(solver_name(warm_start), tool_names) + (
                f" GRPO after the warm start: lr {self.config.lr:.1e}, KL coefficient"
                f" {self.config.kl_coef} (gentler than on the base model: see WarmStartConfig)"
            )
        else:
            world_note = course_world_note(train + valid, tool_names)
        format_note = None
        if task.response_format is not None:
            format_note = (
                "response_format is recorded, but the local model is not constrained to its "
                "schema: the grader's sample.output_json holds an answer only when it parses as "
                "JSON"
            )
        for note in (world_note, stand_in, format_note, *notes):
            if note:
                self.trainer.emit(note, level="warn")
        routes = ", ".join(f"{t.name} -> {t.server_url}" for t in task.tools) or "none"
        self.trainer.emit(f"Rollouts call the task's tools: {routes}")
        self._thread: threading.Thread | None = None
        self._set_status("queued", "Files validated; the job is queued")

    @property
    def model_name(self) -> str:
        """The id the trained model gets (``ft:…``, naming the base it started from); its
        checkpoints add ``:ckpt-step-N``."""
        suffix = f":{self.task.suffix}" if self.task.suffix else ""
        base = BASE_MODEL if self.solver is None else WARM_START_MODEL
        return f"ft:{base}:local{suffix}:{self.id.removeprefix('ftjob-local-')}"

    @property
    def fine_tuned_model(self) -> str | None:
        """The trained model's id once the job succeeded (its last checkpoint)."""
        return self.model_name if self.status == "succeeded" else None

    def as_job(self) -> dict[str, Any]:
        """The job in the ``fine_tuning.job`` shape the hosted API returns."""
        error = {"code": "job_failed", "message": self.error, "param": None} if self.error else None
        return {
            "id": self.id,
            "object": "fine_tuning.job",
            "model": self.task.model,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "fine_tuned_model": self.fine_tuned_model,
            "seed": self.config.seed,
            "metadata": dict(self.metadata),
            "error": error,
            "method": {"type": "reinforcement"},
        }

    def _set_status(self, status: str, message: str, level: str = "info") -> None:
        """Change the status and say so in an event (every change, as the hosted API does)."""
        with self._status_lock:
            if status == self.status:
                return
            self.status = status
            self.trainer.emit(message, level=level)  # a message event: data makes it metrics

    # -- the interface ---------------------------------------------------------------------
    def start(self, progress: bool = False) -> LocalJob:
        if self.status not in ("queued", "paused"):
            raise RuntimeError(
                f"job {self.id} is {self.status}; only a queued or paused job starts"
            )
        tune_malloc()
        self._stop.clear()
        resumed = self.status == "paused"
        self._set_status("running", "Job resumed" if resumed else "Job started")
        # The thread runs in this context, so an outbound policy applied by the caller
        # (rftkit.outbound.applying) covers the job's rollouts and graders too.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, progress), daemon=True)
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
            self._set_status("pausing", "Pause requested: the job pauses after the current step")
            self._stop.set()
        return self

    def _should_stop(self) -> bool:
        if self._pause_at is not None and self.trainer.step >= self._pause_at:
            self._pause_at = None
            self._set_status("pausing", f"Pausing after step {self.trainer.step}")
            return True
        return self._stop.is_set()

    def resume(self, progress: bool = False) -> LocalJob:
        self.wait()
        return self.start(progress)

    def cancel(self, wait: float = 0.0) -> LocalJob:
        """Stop for good at the next safe point; wait up to ``wait`` seconds for it."""
        if self.status in ("succeeded", "failed", "cancelled"):
            return self
        self._cancelled = True
        self._stop.set()
        self._abort.set()
        self.trainer.emit("Cancel requested: the job stops at the next safe point")
        if self._thread is None or not self._thread.is_alive():
            self._finish("cancelled")
        elif wait > 0:
            self._thread.join(wait)
        return self

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job stops running (finished, paused, cancelled or failed)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    # -- the worker ------------------------------------------------------------------------
    def _warm_start(self, progress: bool) -> None:
        """Make the starting model from the reference solver, say what was done, and hand it to
        the trainer; its validation accuracy is measured through the task's tools (the GRPO
        validation's repeats), and it is saved as checkpoint step-0."""
        trainer, config = self.trainer, self.warm_start_config
        requests = trainer.requests.setdefault("warm start", Counter())
        made = warm_start(
            trainer.items,
            self.solver,
            trainer.tools,
            trainer.grader,
            config,
            max_episode_steps=self.config.max_episode_steps,
            reached=requests,
            should_stop=self._abort.is_set,
            progress=progress,
        )
        if self._abort.is_set():
            raise Aborted("stopped during the warm start")
        summary = made.summary
        calls = ", ".join(f"{name} {n}" for name, n in sorted(requests.items())) or "none"
        trainer.emit(
            f"Warm start: the reference solver ran {summary['solver_rollouts']} rollouts on the"
            f" training lines; {sum(requests.values())} requests reached the task's tool URLs"
            f" ({calls}); {summary['transcripts']} transcripts the grader marked correct were"
            f" kept. A model of {summary['parameters']:,} parameters (vocabulary"
            f" {summary['vocab']}) trained {summary['steps']} supervised steps on them, loss"
            f" {summary['first_loss']} -> {summary['final_loss']} ({summary['seconds']} s)"
        )
        if trainer.valid_items:
            accuracy = held_out_accuracy(
                made.model,
                made.tokenizer,
                trainer.valid_items,
                trainer.tools,
                trainer.grader,
                repeats=self.config.valid_repeats,
                max_episode_steps=self.config.max_episode_steps,
                temperature=self.config.temperature,
                top_p=self.config.top_p,
                seed=self.config.seed,
                reached=trainer.requests.setdefault("warm-start validation", Counter()),
            )
            summary["valid_accuracy"] = accuracy
            trainer.emit(f"Warm start: validation accuracy {accuracy}")
        trainer.start_from(made.model, made.tokenizer)
        # the starting model's validation is the one just emitted: not measured a second time
        trainer.config = replace(trainer.config, validate_base=False)
        path = trainer.out_dir / "step-0.pt"
        made.model.save(path, tokenizer=made.tokenizer.state_dict(), warm_start=True)
        summary["checkpoint"] = str(path)
        self.warm_start = summary

    def _against_the_warm_start(self) -> None:
        """Say whether GRPO beat the warm start on validation, the same lines and repeats: when
        it did not, the warm-start checkpoint is the one to keep, and the job says so."""
        accuracy = (self.warm_start or {}).get("valid_accuracy")
        validated = [e["data"] for e in self.trainer.events if (e.get("data") or {}).get(
            "valid_accuracy") is not None]  # fmt: skip
        if accuracy is None or not validated:
            return
        last = validated[-1]
        after = float(last["valid_accuracy"])
        if after > accuracy.mean:
            verdict = f"GRPO raised it: step {last['step']}'s checkpoint is the better one"
        else:
            verdict = (
                "GRPO did not raise it, so the warm start's checkpoint"
                f" ({self.warm_start['checkpoint']}) is at least as good on validation; keep that"
            )
        each = accuracy.rollouts // max(1, accuracy.lines)
        self.trainer.emit(
            f"Validation accuracy: warm start {accuracy.mean:.2f}, after {last['step']} GRPO"
            f" step(s) {after:.2f} ({accuracy.lines} lines, {each} rollouts each): {verdict}",
            level="info" if after > accuracy.mean else "warn",
        )

    def _report_requests(self) -> None:
        """The last word on traffic: requests the task's tool URLs answered, by phase."""
        phases = {p: sum(c.values()) for p, c in self.trainer.requests.items()}
        detail = ", ".join(f"{p} {n}" for p, n in phases.items() if n)
        self.trainer.emit(
            f"Tool requests that reached the task's tool URLs: {sum(phases.values())}"
            + (f" ({detail})" if detail else "")
        )

    def _run(self, progress: bool) -> None:
        try:
            if self.solver is not None and self.warm_start is None:
                self._warm_start(progress)
            self.trainer.run(progress=progress)
        except Aborted as exc:
            self._finish("cancelled", f"({exc})")
            return
        except NothingToLearn as exc:  # a run that cannot learn never reports success
            self._fail(str(exc))
            return
        except Exception as exc:  # the job fails; the reason is kept and emitted, not raised
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        if self._cancelled:
            self._finish("cancelled")
        elif self.trainer.step >= self.config.steps:
            self._against_the_warm_start()
            self._finish("succeeded")
        else:
            self._set_status("paused", f"Job paused after step {self.trainer.step}")

    def _fail(self, reason: str) -> None:
        self.error = reason
        self._finish("failed", f": {reason}")

    def _finish(self, status: str, detail: str = "") -> None:
        self._report_requests()
        self.finished_at = int(time.time())
        messages = {
            "succeeded": "The job has successfully completed",
            "cancelled": f"Job cancelled after {self.trainer.step} step(s)",
            "failed": "Job failed",
        }
        level = "error" if status == "failed" else "info"
        separator = "" if detail.startswith(":") or not detail else " "
        self._set_status(status, f"{messages[status]}{separator}{detail}", level=level)
        release_free_memory()
