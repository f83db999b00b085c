"""Benchmark: what the local fine-tuning API adds to a local job's wall time.

The same small course task and settings run twice over, alternately: by the local backend called
directly (``LocalJob(...).start().wait()``) and through ``rftkit api serve`` with the real
``openai`` client (upload both files, ``fine_tuning.jobs.create``, poll ``retrieve`` every
``--poll`` seconds until ``succeeded``, as a learner's notebook does). Both run in this process
against the same loopback tool service; seeds are fixed and each rollout samples from its own
seeded stream, so both runners do the same training work up to float rounding (the last event of
each run is printed to show it). A one-step warm-up job runs first, uncounted (the first job in a
process pays for loading torch and the model). Wall time is measured from the first call (the
constructor, or the first upload) until the job is seen to have succeeded.

On a shared machine whole runs vary by tens of percent with the load, more than the effect being
measured, so each run is also split into the training the job did (triage plus every step's
``timing.step.full_iteration``, from its own events) and the rest of the wall time: the calls,
uploads, validation, model loading and the poll's delay. The API's cost is the difference in
"the rest" between the runners, shown as a share of the direct run's median wall time.

Run:  PYTHONPATH=$PWD python benchmarks/local_api.py [--rounds 2] [--poll 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import openai

from rftkit.api import serve_api
from rftkit.course.task import CourseTaskSize, serve_course_task
from rftkit.jobs import LocalJob

SIZE = CourseTaskSize(train_worlds=1, train_per_world=16, valid_worlds=1, valid_per_world=10)
HYPERPARAMETERS = {
    "n_epochs": 1,
    "batch_size": 4,  # 16 lines / 4 = 4 steps
    "compute_multiplier": 0.67,  # 4 rollouts per task
    "eval_interval": 2,
    "eval_samples": 1,
}


TRIAGE_SECONDS = re.compile(r"\(([\d.]+) s\)$")


def training_seconds(events: list[dict]) -> float:
    """Triage plus every step's full iteration, as the job itself timed them."""
    triage = sum(
        float(m.group(1))
        for e in events
        if e["message"].startswith("Learnability triage")
        and (m := TRIAGE_SECONDS.search(e["message"]))
    )
    steps = sum(
        e["data"]["timing"]["step"]["full_iteration"] for e in events if e["type"] == "metrics"
    )
    return triage + steps


def direct(task, env, out_dir: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    job = LocalJob(task, env=env, out_dir=out_dir).start()
    job.wait()
    seconds = time.perf_counter() - started
    return seconds, job.as_job() | {"events": job.events()}


def through_api(task, env, api, poll: float) -> tuple[float, dict]:
    client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key)
    started = time.perf_counter()
    train = client.files.create(file=task.path("train").open("rb"), purpose="fine-tune")
    valid = client.files.create(file=task.path("validation").open("rb"), purpose="fine-tune")
    created = client.fine_tuning.jobs.create(
        model=task.model,
        training_file=train.id,
        validation_file=valid.id,
        seed=task.seed,
        extra_body={"method": task.reinforcement_method(env)},
    )
    retrieve = client.fine_tuning.jobs.with_raw_response.retrieve
    while (job := retrieve(created.id).http_response.json())["status"] in ("running", "queued"):
        time.sleep(poll)
    seconds = time.perf_counter() - started
    events = [e.model_dump() for e in client.fine_tuning.jobs.list_events(created.id, limit=100)]
    return seconds, job | {"events": events[::-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        serve_course_task(Path(scratch) / "task", SIZE) as course,
        serve_api(Path(scratch) / "api") as api,
    ):
        task = course.task.model_copy(update={"hyperparameters": HYPERPARAMETERS})
        warmup = LocalJob(task, env=course.env, grpo={"steps": 1, "triage_tasks": 4},
                          out_dir=Path(scratch) / "warmup")  # fmt: skip
        warmup.start().wait()
        for round_ in range(1, args.rounds + 1):
            for runner in ("direct", "api"):
                if runner == "direct":
                    seconds, job = direct(task, course.env, Path(scratch) / f"direct-{round_}")
                else:
                    seconds, job = through_api(task, course.env, api, args.poll)
                trained = training_seconds(job["events"])
                rows.append((runner, round_, seconds, trained, job["status"],
                             job["events"][-1]["message"]))  # fmt: skip
    print(f"course task: {SIZE}; hyperparameters {HYPERPARAMETERS}; poll {args.poll} s\n")
    print("| runner | round | wall s | training s | rest s | status | last event |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for runner, round_, seconds, trained, status, message in rows:
        print(
            f"| {runner} | {round_} | {seconds:.1f} | {trained:.1f} | {seconds - trained:.1f} "
            f"| {status} | {message} |"
        )

    def median(runner: str, column) -> float:
        return statistics.median(column(row) for row in rows if row[0] == runner)

    medians = {runner: median(runner, lambda row: row[2]) for runner in ("direct", "api")}
    rest = {runner: median(runner, lambda row: row[2] - row[3]) for runner in ("direct", "api")}
    ratio = medians["api"] / medians["direct"]
    added = (rest["api"] - rest["direct"]) / medians["direct"]
    print(
        f"\nmedian wall time: direct {medians['direct']:.1f} s, "
        f"through the API {medians['api']:.1f} s"
    )
    print(f"ratio api / direct (whole runs): {ratio:.3f} (target: at most 1.05)")
    print(
        f"outside training: direct {rest['direct']:.1f} s, through the API {rest['api']:.1f} s; "
        f"the API adds {added:+.1%} of the direct run's wall time"
    )


if __name__ == "__main__":
    main()
