"""Throughput of the local grader engine against the reference libraries called directly.

For each metric the same inputs go through ``run_grader`` (templates, sample parsing, result
shape, sandbox for python graders) and through the library call alone; the scores are asserted
equal and the table shows calls per second for both and the engine's overhead as a ratio.

    PYTHONPATH=$PWD python benchmarks/graders.py            # ~1 minute on 2 busy cores
    PYTHONPATH=$PWD python benchmarks/graders.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import time
import warnings
from collections.abc import Callable

from nltk.translate.bleu_score import sentence_bleu
from nltk.translate.gleu_score import sentence_gleu
from rapidfuzz import fuzz
from rouge_score.rouge_scorer import RougeScorer

from rftkit.course.grader import course_grader
from rftkit.course.world import generate_tasks, generate_world
from rftkit.graders import run_grader, run_grader_async, run_grader_many
from rftkit.graders.sandbox import default_sandbox
from rftkit.graders.sources import answer_closeness, evidence_lookup, tool_efficiency
from rftkit.protocol import Sample, ToolCall

PAIRS = [
    (
        "The net income of Meromir Brands in 2024-Q2 was 911.4 USD millions.",
        "Meromir Brands reported net income of 911.4 USD millions in 2024-Q2.",
    ),
    ("Valigard Freight had the higher operating income", "Valigard Freight"),
    ("the headcount changed by -161 people", "-161"),
    ("It grew by about 3 percent over the year", "growth of 2.9 % year on year"),
]


def similarity(metric: str) -> dict:
    return {
        "type": "text_similarity",
        "name": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": metric,
    }


def quiet_bleu(text: str, reference: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sentence_bleu([reference.split()], text.split())


SCORERS = {name: RougeScorer([name]) for name in ("rouge1", "rougeL")}

DIRECT: dict[str, tuple[dict, Callable[[str, str], float]]] = {
    "string_check eq": (
        {
            "type": "string_check",
            "name": "eq",
            "operation": "eq",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference}}",
        },
        lambda t, r: float(t == r),
    ),
    "fuzzy_match": (similarity("fuzzy_match"), lambda t, r: fuzz.ratio(t, r) / 100),
    "bleu": (similarity("bleu"), quiet_bleu),
    "gleu": (similarity("gleu"), lambda t, r: sentence_gleu([r.split()], t.split())),
    "rouge_1": (
        similarity("rouge_1"),
        lambda t, r: SCORERS["rouge1"].score(r, t)["rouge1"].fmeasure,
    ),
    "rouge_l": (
        similarity("rouge_l"),
        lambda t, r: SCORERS["rougeL"].score(r, t)["rougeL"].fmeasure,
    ),
}


def rate(calls: int, seconds: float) -> float:
    return calls / seconds if seconds else float("inf")


def bench_similarity(n: int) -> list[tuple[str, int, float, float]]:
    rows = []
    for name, (grader, direct) in DIRECT.items():
        items = [({"reference": r}, t) for t, r in PAIRS]
        for item, text in items:  # same scores first (and warm caches)
            assert run_grader(grader, text, item).reward == direct(text, item["reference"]), name
        started = time.perf_counter()
        for i in range(n):
            item, text = items[i % len(items)]
            run_grader(grader, text, item)
        engine = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(n):
            item, text = items[i % len(items)]
            direct(text, item["reference"])
        rows.append((name, n, rate(n, engine), rate(n, time.perf_counter() - started)))
    return rows


def course_cases(n: int) -> list[tuple[Sample, dict]]:
    tasks = generate_tasks(generate_world(seed=0), seed=0)
    cases = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        calls = [
            ToolCall(id=f"c{k}", function={"name": "read_file", "arguments": "{}"})
            for k in range(task.min_tool_calls + i % 2)
        ]
        answer = task.answer if i % 3 else f"{task.answer}1"
        item = {
            "reference_answer": task.answer,
            "reference_value": task.answer_value,
            "unit": task.unit,
            "min_tool_calls": task.min_tool_calls,
        }
        cases.append((Sample.from_text(answer, tools=calls), item))
    return cases


def direct_course(sample: Sample, item: dict) -> float:
    data = sample.model_dump(mode="json")
    correct = answer_closeness.grade(data, item) * evidence_lookup.grade(data, item)
    return correct * (0.8 + 0.2 * tool_efficiency.grade(data, item))


def bench_course(n: int) -> list[tuple[str, int, float, float]]:
    grader = course_grader()
    cases = course_cases(n)
    started = time.perf_counter()
    rewards = [run_grader(grader, sample, item).reward for sample, item in cases]
    sequential = time.perf_counter() - started

    async def concurrently():
        return await asyncio.gather(*(run_grader_async(grader, s, i) for s, i in cases))

    started = time.perf_counter()
    concurrent = [r.reward for r in asyncio.run(concurrently())]
    in_parallel = time.perf_counter() - started
    started = time.perf_counter()
    batched = [r.reward for r in run_grader_many(grader, cases)]
    in_batch = time.perf_counter() - started
    started = time.perf_counter()
    expected = [direct_course(sample, item) for sample, item in cases]
    direct = time.perf_counter() - started
    assert rewards == expected == concurrent == batched
    return [
        ("course multi (3 python, sequential)", n, rate(n, sequential), rate(n, direct)),
        ("course multi (3 python, async gather)", n, rate(n, in_parallel), rate(n, direct)),
        ("course multi (3 python, run_grader_many)", n, rate(n, in_batch), rate(n, direct)),
    ]


def bench_sandbox(n: int) -> list[tuple[str, int, float, float]]:
    """One trivial python grader: a sandbox call per case, and all cases in one batch."""
    source = "def grade(sample, item):\n    return float(len(sample['output_text']))\n"
    namespace: dict = {}
    exec(source, namespace)
    cases = [({"output_text": "x" * i}, {}) for i in range(n)]
    sandbox = default_sandbox()
    sandbox.run(source, *cases[0])  # the fork server is up
    started = time.perf_counter()
    one_by_one = [sandbox.run(source, sample, item) for sample, item in cases]
    single = time.perf_counter() - started
    started = time.perf_counter()
    batched = sandbox.run_many(source, cases)
    in_batch = time.perf_counter() - started
    started = time.perf_counter()
    direct = [namespace["grade"](sample, item) for sample, item in cases]
    direct_s = time.perf_counter() - started
    assert one_by_one == batched == direct
    level = sandbox.isolation_level().split(" (")[0]
    return [
        (f"python sandbox, one call ({level})", n, rate(n, single), rate(n, direct_s)),
        (f"python sandbox, run_many ({level})", n, rate(n, in_batch), rate(n, direct_s)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small n, for a smoke run")
    args = parser.parse_args()
    n_text, n_python = (200, 20) if args.quick else (2000, 200)
    rows = bench_similarity(n_text) + bench_sandbox(n_python) + bench_course(n_python)
    print(f"python graders run under: {default_sandbox().isolation_level()}")
    print(f"{'grader':40s} {'n':>6s} {'engine/s':>12s} {'direct/s':>12s} {'direct/engine':>14s}")
    for name, n, engine, direct in rows:
        print(f"{name:40s} {n:6d} {engine:12.0f} {direct:12.0f} {direct / engine:13.1f}x")
    print("same scores asserted for every row (engine == library called directly)")


if __name__ == "__main__":
    main()
