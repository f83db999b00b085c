"""``benchmarks/gpu_smoke.py``: its CPU path runs here; the forecast reads only a GPU result that
matches the job's model, GPU and method."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from rftkit.course.task import CourseTaskSize, write_course_task
from rftkit.trl.describe import ASSUMED_STEP_SECONDS, forecast
from rftkit.trl.jobspec import TRLJobSpec

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_smoke.py"


def smoke(argv: list[str]) -> int:
    """The script's ``main``, loaded from its file as ``python benchmarks/gpu_smoke.py`` runs."""
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def test_the_cpu_path_runs_the_job_runner_and_records_its_steps(tmp_path, capsys):
    assert smoke(["--cpu", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "gpu_smoke_cpu.json").read_text())
    assert result["gpu"] == "cpu" and result["method"] == "lora" and result["steps"] == 2
    assert all(s > 0 for s in result["seconds_per_step_each"])
    assert result["tokens_per_second"] > 0 and result["peak_memory_gb"] is None
    assert result["tool_calls_per_rollout"] > 0 and result["discarded_rollouts"] == 0
    assert not (tmp_path / "gpu_smoke.json").exists()


def test_the_forecast_uses_a_matching_gpu_measurement_only(tmp_path):
    size = CourseTaskSize(train_worlds=1, train_per_world=4, valid_worlds=1, valid_per_world=2)
    task = write_course_task(tmp_path / "task", "https://ws--rftkit-tools.modal.run", size)
    smoke_file = tmp_path / "gpu_smoke.json"
    measured = {"model": "Qwen/Qwen3-0.6B", "gpu": "H100", "method": "full"}
    smoke_file.write_text(json.dumps(measured | {"seconds_per_step": 42.0}))
    same = forecast(task, TRLJobSpec(model="Qwen/Qwen3-0.6B"), results=smoke_file)
    assert same["seconds_per_step"] == 42.0 and "gpu_smoke" in same["seconds_per_step_source"]
    other = forecast(task, TRLJobSpec(model="Qwen/Qwen3-1.7B"), results=smoke_file)
    assert other["seconds_per_step"] == ASSUMED_STEP_SECONDS
    assert other["seconds_per_step_source"] == "assumed"
    missing = forecast(task, TRLJobSpec(), results=tmp_path / "absent.json")
    assert missing["seconds_per_step_source"] == "assumed"
