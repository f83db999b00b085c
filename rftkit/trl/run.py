"""One TRL job in its folder, from start or from where it stopped, to a final status.

The folder is the Modal volume's ``/runs/<job id>`` (or any directory with the same layout):
``task/task.json`` and the data, ``spec.json``, then what the run writes: ``status.json``,
``events.jsonl`` and ``checkpoint-N/``. Run it as ``python -m rftkit.trl.run FOLDER`` in one
process, or under ``accelerate launch`` for several (:func:`launch_command`); only the main
process writes events and status.

Every ending has a final status: ``succeeded``; ``timed_out`` (the run stops itself, checkpointed,
before the function's timeout); ``failed`` with the error; ``cancelled`` is written by whoever
cancels the Modal call (:meth:`rftkit.trl.backend.TRLModalJob.cancel`), since a cancelled container
gets no chance to. A preempted container that Modal restarts on the same input runs this again:
it resumes from the latest ``checkpoint-N`` (model, optimizer, scheduler, RNG and data position,
as ``Trainer`` saves them), and the events after step N are dropped and written again, so event ids,
which are keyed by step, have no duplicates and no gaps.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rftkit.trl.jobspec import TRLJobSpec

STATUS_FILE = "status.json"
SPEC_FILE = "spec.json"
FINAL = ("succeeded", "failed", "cancelled", "timed_out")
DEADLINE_MARGIN_SECONDS = 15 * 60
"""Stopped this long before the timeout: time to write the last checkpoint to the volume."""
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def write_status(folder: Path, status: str, error: str | None = None, **extra: Any) -> None:
    body = {"status": status, "error": error, "updated_at": int(time.time()), **extra}
    (folder / STATUS_FILE).write_text(json.dumps(body), encoding="utf-8")


def read_status(folder: Path) -> dict[str, Any] | None:
    path = folder / STATUS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def latest_checkpoint(folder: Path) -> Path | None:
    """The ``checkpoint-N`` with the highest N that ``Trainer`` finished writing."""
    done = [
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()
    ]
    return max(done)[1] if done else None


def launch_command(folder: Path, processes: int, main_module: str = "rftkit.trl.run") -> list[str]:
    """The command that runs ``folder``'s job: one process, or ``accelerate launch`` with FSDP2
    sharding over ``processes`` (the layout :mod:`rftkit.trl.memory` assumed)."""
    if processes == 1:
        return [sys.executable, "-m", main_module, str(folder)]
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--mixed_precision",
        "bf16",
        "--use_fsdp",
        "--fsdp_version",
        "2",
        "--fsdp_auto_wrap_policy",
        "TRANSFORMER_BASED_WRAP",
        "--fsdp_state_dict_type",
        "FULL_STATE_DICT",  # checkpoints and final/ stay Hugging Face models vLLM can serve
        "--fsdp_reshard_after_forward",
        "true",
        "-m",
        main_module,
        str(folder),
    ]


def run_job(
    folder: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
    model: Any = None,
    tokenizer: Any = None,
    on_save: Callable[[], None] | None = None,
    **trainer_options: Any,
) -> str:
    """Train (or resume) the job in ``folder`` and return its final status (see module doc).

    ``model``/``tokenizer`` stand in for the spec's model id (the CPU tests pass a tiny model);
    ``on_save`` runs after each checkpoint and log (the Modal app commits its volume there);
    ``trainer_options`` go to :func:`rftkit.trl.trainer.build_trainer`.
    """
    from accelerate import PartialState
    from transformers import TrainerCallback

    from rftkit.task import RFTTask
    from rftkit.trl.trainer import build_trainer

    folder = Path(folder)
    main = PartialState().is_main_process
    spec = TRLJobSpec(**json.loads((folder / SPEC_FILE).read_text(encoding="utf-8")))
    task = RFTTask.load(folder / "task" / "task.json")
    resume = latest_checkpoint(folder)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    if deadline is not None:
        deadline -= min(DEADLINE_MARGIN_SECONDS, timeout_seconds / 10)
    stopped: list[str] = []

    class Deadline(TrainerCallback):
        """Checkpoint and stop before the timeout; commit after every save and log."""

        def on_step_end(self, args, state, control, **kwargs):
            if deadline is not None and time.monotonic() > deadline:
                stopped.append("timed_out")
                control.should_save = True
                control.should_training_stop = True

        def on_save(self, args, state, control, **kwargs):
            if on_save is not None:
                on_save()

        on_log = on_save

    if main:
        write_status(folder, "running", resumed_from=resume.name if resume else None)
    try:
        built = build_trainer(
            task,
            spec.model if model is None else model,
            tokenizer,
            folder,
            env=env,
            overrides=spec.grpo_overrides(task),
            lora=spec.lora_settings(),
            resume_step=_step_of(resume),
            **trainer_options,
        )
        built.trainer.add_callback(Deadline())
        built.trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        status = stopped[0] if stopped else "succeeded"
        if status == "succeeded":
            built.trainer.save_model(str(folder / "final"))
    except Exception as exc:  # the reason is kept for `status`, then re-raised
        if main:
            write_status(folder, "failed", f"{type(exc).__name__}: {exc}")
            if on_save is not None:
                on_save()
        raise
    if main:
        write_status(folder, status, global_step=built.trainer.state.global_step)
        if on_save is not None:
            on_save()
    return status


def _step_of(checkpoint: Path | None) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint else 0


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    timeout = os.environ.get("RFTKIT_TIMEOUT_SECONDS")
    status = run_job(folder, timeout_seconds=float(timeout) if timeout else None)
    return 0 if status in ("succeeded", "timed_out") else 1


if __name__ == "__main__":
    sys.exit(main())
