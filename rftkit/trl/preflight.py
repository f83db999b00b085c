"""Checks before a TRL job on Modal spends anything: the task's, then the backend's own.

The task's checks: both data files validate (``rftkit.data.validate_file`` with the grader and
the configured tool names, and train/validation leakage), the grader validates for RFT and holds
against the red team (``rftkit.jobs.preflight.check_redteam``, the hosted preflight's own row),
every header reference resolves and none holds a literal value
(``rftkit.jobs.preflight.task_secrets``: the same row and message as on every backend; the job
reads the values from its Modal secrets, which must hold them too), and header values are masked
in every message. The result is a :class:`rftkit.jobs.report.Report`, as on every backend.
The backend's: every tool a line offers has a URL,
and it is not on loopback or a private address (``rftkit.jobs.rules.private_reason``: a Modal
container cannot reach your machine); each tool spec can be shown to the model exactly by TRL
(:mod:`rftkit.trl.toolmethods`); the model's chat template is one TRL parses tool calls for; the
prompts fit ``max_prompt_length``; the job fits its GPUs by the rule in :mod:`rftkit.trl.memory`,
and when it does not, the layouts that would fit (LoRA, more GPUs, server mode, a larger GPU) are
named.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from rftkit._util.moved import renamed
from rftkit.data.tokens import line_tokens
from rftkit.data.validate import validate_file
from rftkit.graders.validate import GraderValidationError, validate_grader
from rftkit.jobs.preflight import check_redteam, task_secrets
from rftkit.jobs.report import Report
from rftkit.jobs.rules import private_reason
from rftkit.task import RFTTask
from rftkit.toolserver.deployment import deploy_hint
from rftkit.trl.gpus import GPUS, MAX_GPUS, MODELS
from rftkit.trl.jobspec import TRLJobSpec
from rftkit.trl.toolmethods import ToolSpecError, spec_function, task_tool_specs

REDTEAM_CASES = 3
"""Cases the red team attacks the grader on, as ``rftkit jobs preflight`` (from the training
lines: no baseline on this path)."""


# This module's report type before rftkit.jobs.report, kept for one release.
__getattr__ = renamed(__name__, {"PreflightReport": (Report, "rftkit.jobs.report.Report")})


def preflight(
    task: RFTTask, spec: TRLJobSpec | None = None, env: Mapping[str, str] | None = None
) -> Report:
    """Every check, each reported (none stops the others); ``ok`` when there is no error.

    ``env`` stands for the Modal secrets when checking header references (default: this
    process's environment)."""
    spec = spec or TRLJobSpec()
    grader, secrets, resolved = task_secrets(task, env)
    report = Report(task.name, "trl-modal", secrets=secrets)
    report.add("secrets", *resolved)
    if resolved[0] == "error":
        report.add(
            "modal secrets",
            "warning",
            "the job reads header values from the Modal secrets rftkit-tool-token / "
            "rftkit-grader-keys: they must hold them too",
        )
    _data_checks(task, report)
    _tool_checks(task, report)
    # An endpoint grader's probes fail without its headers: the red team row then says so.
    check_redteam(report, task, grader or task.grader, baseline=None, cases=REDTEAM_CASES)
    report.add("model", *template_check(spec.model))
    report.add("prompt length", *prompt_check(task, spec))
    report.add("gpu", *memory_check(task, spec))
    return report


def _data_checks(task: RFTTask, report: Report) -> None:
    names = [t.name for t in task.tools]
    for split in ("train", "validation"):
        path = task.path(split)
        if path is None:
            report.add("validation data", "warning", "no validation file: no evaluation steps")
            continue
        other = task.path("train") if split == "validation" else None
        found = validate_file(
            path, split=split, grader=task.grader, tool_names=names, other_split=other
        )
        for finding in found.errors[:10]:
            report.add(f"{split} data", "error", str(finding))
        if found.ok:
            report.add(f"{split} data", "ok", f"{found.lines_read} lines, no errors")
    try:
        validate_grader(task.grader)
        report.add("grader", "ok", f"{task.grader.get('type')} grader validates for RFT")
    except GraderValidationError as exc:
        report.add("grader", "error", str(exc))


def _tool_checks(task: RFTTask, report: Report) -> None:
    for tool in task.tools:
        reason = private_reason(tool.server_url)
        if reason is not None:
            report.add(
                f"tool {tool.name}",
                "error",
                f"{tool.server_url}: {reason}, which a Modal GPU cannot reach; "
                f"{deploy_hint(task.root)}, and point the task at it",
            )
    try:
        specs = task_tool_specs(task.items("train") + task.items("validation"))
    except ToolSpecError as exc:
        report.add("tool specs", "error", str(exc))
        return
    configured = {t.name for t in task.tools}
    missing = [
        spec_function(s)["name"] for s in specs if spec_function(s)["name"] not in configured
    ]
    if missing:
        report.add("tool specs", "error", f"offered but given no URL in task.tools: {missing}")
    if importlib.util.find_spec("transformers") is None:
        report.add("tool specs", "warning", "transformers not installed: schemas checked on Modal")
        return
    from rftkit.trl.toolmethods import tool_method

    for spec in specs:
        try:
            tool_method(spec, lambda *_: "")
        except ToolSpecError as exc:
            report.add("tool specs", "error", str(exc))
            return
    report.add("tool specs", "ok", f"TRL shows the model exactly the {len(specs)} specs")


def template_check(model: str) -> tuple[str, str]:
    """Whether TRL 1.16 can parse the model's tool calls: for a local model directory the
    tokenizer is loaded and checked as GRPOTrainer will; for a known hub id the table says."""
    if Path(model).is_dir():
        if importlib.util.find_spec("trl") is None:
            return "warning", "trl not installed: the chat template is checked on Modal"
        from transformers import AutoTokenizer
        from trl.chat_template_utils import add_response_schema, supports_tool_calling

        tokenizer = AutoTokenizer.from_pretrained(model)
        if not supports_tool_calling(tokenizer):
            return "error", f"{model}: its chat template cannot render tool calls"
        try:
            add_response_schema(tokenizer)
        except ValueError:
            return "error", f"{model}: TRL does not recognise its chat template to parse calls"
        return "ok", f"{model}: chat template renders and TRL parses tool calls"
    known = MODELS.get(model)
    if known is None:
        return "warning", (
            f"{model} is not in rftkit.trl.gpus.MODELS: its template is checked when the job "
            "starts (GRPOTrainer refuses one without tool calling)"
        )
    if importlib.util.find_spec("trl") is not None:
        import trl

        bundled = Path(trl.__file__).parent / "chat_templates" / known.template
        if not bundled.is_file():
            return "error", f"{model}: TRL has no {known.template} (version mismatch?)"
    return "ok", f"{model}: chat template {known.template}, tool calls parsed by TRL"


CHAT_FORMAT_MARGIN = 1.25
"""The count is of the messages' text and the tools' JSON in OpenAI's o200k encoding; the model's
own tokenizer and its chat template's markup add to it, by this much at most on the course's
lines (an estimate, not the model's tokenizer)."""


def prompt_check(task: RFTTask, spec: TRLJobSpec) -> tuple[str, str]:
    """The longest prompt against ``max_prompt_length`` (vLLM's context is prompt + completion)."""
    items = task.items("train") + task.items("validation")
    if not items:
        return "warning", "no lines to measure"
    longest = math.ceil(max(line_tokens(item) for item in items) * CHAT_FORMAT_MARGIN)
    detail = (
        f"longest prompt ~{longest} tokens (estimated); max_prompt_length {spec.max_prompt_length}"
        f", vllm_max_model_length {spec.max_prompt_length + spec.max_completion_length}"
    )
    if longest > spec.max_prompt_length:
        return "error", detail + ": raise max_prompt_length (--max-prompt-length)"
    return "ok", detail


def memory_check(task: RFTTask, spec: TRLJobSpec) -> tuple[str, str]:
    """Whether the job fits its GPUs (:mod:`rftkit.trl.memory`); if not, what would."""
    layout = spec.plan(task)
    if layout is None:
        return "warning", (
            f"{spec.model} is not in rftkit.trl.gpus.MODELS: its memory is not checked "
            "(add its architecture there)"
        )
    if layout.fits:
        return "ok", f"{spec.model} on {spec.gpu}: {layout.summary()}"
    options = ", ".join(alternatives(task, spec)) or "none up to 8 x B200: pick a smaller model"
    return "error", (
        f"{spec.model} on {spec.gpu} ({layout.finetune}, {spec.vllm_mode} vLLM) does not fit: "
        f"{'; '.join(layout.problems)}. Would fit: {options}"
    )


def alternatives(task: RFTTask, spec: TRLJobSpec, limit: int = 4) -> list[str]:
    """Layouts that fit, cheapest first: LoRA, more GPUs, server mode, then larger GPUs."""
    gpu_name = spec.gpu.partition(":")[0]
    found: list[tuple[float, str]] = []
    for name in dict.fromkeys([gpu_name, "H100", "H200", "B200"]):
        for count in (1, 2, 4, MAX_GPUS):
            for mode in ("colocate", "server"):
                for method in dict.fromkeys([spec.method, "lora"]):
                    if mode == "server" and count < 2:
                        continue
                    gpu = name if count == 1 else f"{name}:{count}"
                    candidate = replace(spec, gpu=gpu, vllm_mode=mode, finetune=method)
                    layout = candidate.plan(task)
                    if layout is not None and layout.fits:
                        price = GPUS[name].usd_per_hour * count
                        flags = f"--gpu {gpu} --vllm-mode {mode} --finetune {method}"
                        found.append((price, f"{flags} (${price:.2f}/h)"))
    return [text for _, text in sorted(dict.fromkeys(found))[:limit]]


def modal_credentials(env: Mapping[str, str] | None = None) -> bool:
    """True when a Modal token is configured (environment or ~/.modal.toml)."""
    env = os.environ if env is None else env
    if env.get("MODAL_TOKEN_ID") and env.get("MODAL_TOKEN_SECRET"):
        return True
    return Path(env.get("MODAL_CONFIG_PATH", Path.home() / ".modal.toml")).is_file()
