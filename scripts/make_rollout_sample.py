"""Sample real rollouts of the committed demo run for labelling (seeded, byte-for-byte).

Reads ``notebooks/data/demo_run/traces_{before,after}.jsonl`` (the base and the trained model on
held-out worlds 100 and 101), rebuilds each rollout's dataset line from its world, and writes
``rftkit/course/reference_labels/rollouts.jsonl``: for each sampled rollout its question,
reference answer, final answer, trace (every tool call with the tool's output) and the ``item`` /
``sample`` a grader receives. ``chosen`` says why a rollout is in the set: 15 per model drawn at
random (``random``), then every other comparison the model answered right by the answer credit
(``right comparison``): where a 50/50 lucky guess hides, too rare to turn up in a random 30. It
writes no label: labels are typed by a labeller reading each rollout under ``rubric.md``
(``rollout_labels.csv``).

The committed ``rollouts.jsonl`` was sampled from the demo run committed until 2026-12-07; the run
in ``notebooks/data/demo_run`` now is a later one. So the script writes to ``--out`` and refuses
to overwrite the labelled file: a new sample is labelled before it replaces the old one.

    PYTHONPATH=$PWD python scripts/make_rollout_sample.py --out /tmp/rollouts.jsonl

    python scripts/make_rollout_sample.py
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from rftkit.course.world import generate_tasks, generate_world
from rftkit.data.build import build_dataset
from rftkit.graders.sources import answer_closeness

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "notebooks" / "data" / "demo_run"
OUT = ROOT / "rftkit" / "course" / "reference_labels" / "rollouts.jsonl"
WORLDS, TASKS_PER_WORLD, PER_MODEL, SEED = (100, 101), 20, 15, 0


def lines() -> dict[str, dict]:
    """The demo's held-out dataset lines, ids prefixed with the world seed as the demo does."""
    found = {}
    for seed in WORLDS:
        tasks = generate_tasks(generate_world(seed), seed)[:TASKS_PER_WORLD]
        for line in build_dataset(tasks, style="compact", world_seed=seed):
            found[f"w{seed}-{line['task_id']}"] = line
    return found


def trace_steps(trace: dict) -> list[dict]:
    """Every tool call in order, with the tool's output, from the trace's function spans."""
    return [
        {
            "tool": span["span_data"]["name"],
            "arguments": _arguments(span["span_data"]["input"]),
            "output": span["span_data"]["output"],
        }
        for span in trace["spans"]
        if span["span_data"]["type"] == "function"
    ]


def _arguments(text: str | None) -> dict | str:
    """A call's arguments as the model wrote them: parsed JSON, or the raw text when the model
    wrote JSON that does not parse (a labeller reads that too)."""
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return text


def right_comparison(trace: dict, item: dict) -> bool:
    """A comparison whose answer names the winner (the answer credit alone, no process term)."""
    return item["task_type"] == "comparison" and answer_closeness.grade(trace["sample"], item) == 1


def row(trace: dict, item: dict, model: str, number: int, chosen: str) -> dict:
    return {
        "id": f"{'b' if model == 'before' else 'a'}{number:02d}",
        "model": "base" if model == "before" else "trained",
        "chosen": chosen,
        "trace_id": trace["trace_id"],
        "question": item["messages"][-1]["content"],
        "reference_answer": item["reference_answer"],
        "unit": item["unit"],
        "answer": trace["sample"]["output_text"],
        "trace": trace_steps(trace),
        "item": {k: v for k, v in item.items() if k != "tools"},
        "sample": {k: trace["sample"][k] for k in ("output_text", "output_tools")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the sample")
    out = parser.parse_args().out.resolve()
    if out == OUT.resolve():
        raise SystemExit(f"{OUT.relative_to(ROOT)} holds the labelled sample: write elsewhere")
    items, rng, rows = lines(), random.Random(SEED), []
    for model in ("before", "after"):
        traces = [json.loads(t) for t in (RUN / f"traces_{model}.jsonl").read_text().splitlines()]
        completed = [t for t in traces if t["status"] == "completed" and t["sample"]]
        drawn = sorted(rng.sample(completed, PER_MODEL), key=lambda t: t["trace_id"])
        extra = [
            t for t in completed if t not in drawn and right_comparison(t, items[t["item_id"]])
        ]
        chosen = [(t, "random") for t in drawn] + [(t, "right comparison") for t in extra]
        for number, (trace, why) in enumerate(chosen, start=1):
            rows.append(row(trace, items[trace["item_id"]], model, number, why))
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rollouts written to {out}")


if __name__ == "__main__":
    main()
