"""Near-duplicate questions and train/validation leakage.

Similarity is rapidfuzz's ``fuzz.ratio`` on lower-cased, punctuation-free text, computed as a
matrix by ``process.cdist`` (C++, in row blocks so memory stays bounded).

Text similarity alone is not enough for templated questions: "revenue of Acme in 2025-Q1" and
"... in 2025-Q2" score 98 yet ask different things. So a pair counts as **leakage** when

- the questions are the same (score 100), or
- they are near duplicates (score >= threshold) with the same numbers (dates, quarters, amounts)
  *and* the same reference answer, or
- they rely on the same evidence and have the same answer (a paraphrase of the same fact),
  when the lines carry ``evidence``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

DEFAULT_THRESHOLD = 90.0
_BLOCK_ROWS = 256
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

Record = Mapping[str, Any]


def question_of(line: Record) -> str:
    """The text of the last user message (the question the model answers); '' if none."""
    messages = line.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _similar_pairs(
    queries: list[str], choices: list[str], threshold: float, same_list: bool
) -> list[tuple[int, int, float]]:
    pairs = []
    for start in range(0, len(queries), _BLOCK_ROWS):
        block = process.cdist(
            queries[start : start + _BLOCK_ROWS],
            choices,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=threshold,
            dtype=np.float32,
        )
        for row, col in zip(*np.nonzero(block), strict=True):
            i = start + int(row)
            if not same_list or i < col:
                pairs.append((i, int(col), float(block[row, col])))
    return pairs


def _answer(line: Record) -> str | None:
    answer = line.get("reference_answer")
    return None if answer is None else str(answer)


def _numbers(text: str) -> Counter[str]:
    return Counter(_NUMBER.findall(text))


def near_duplicates(lines: Sequence[Record], threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Pairs of lines whose questions score at least ``threshold`` (0-100), most similar first.

    Columns: ``first``/``second`` (0-based indices), their ``task_id``s, ``score``,
    ``same_answer`` and both questions. Read ``same_answer`` before removing anything: templated
    questions are similar by construction.
    """
    questions = [question_of(line) for line in lines]
    rows = [
        {
            "first": i,
            "second": j,
            "first_id": lines[i].get("task_id"),
            "second_id": lines[j].get("task_id"),
            "score": round(score, 1),
            "same_answer": _answer(lines[i]) == _answer(lines[j]),
            "first_question": questions[i],
            "second_question": questions[j],
        }
        for i, j, score in _similar_pairs(questions, questions, threshold, same_list=True)
    ]
    columns = ["first", "second", "first_id", "second_id", "score", "same_answer"]
    frame = pd.DataFrame(rows, columns=[*columns, "first_question", "second_question"])
    return frame.sort_values(
        ["score", "first", "second"], ascending=[False, True, True], ignore_index=True
    )


def _fact_key(line: Record) -> tuple[tuple[str, ...], str] | None:
    evidence = line.get("evidence")
    answer = _answer(line)
    if not isinstance(evidence, list) or not evidence or answer is None:
        return None
    return tuple(sorted(map(str, evidence))), answer


def find_leakage(
    train: Sequence[Record],
    valid: Sequence[Record],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    shared_answers: Iterable[str] = (),
) -> pd.DataFrame:
    """Validation lines that repeat a training task, one row per (validation, training) pair.

    Columns: ``valid_index``, ``train_index`` (0-based), their ``task_id``s, ``reason`` and
    ``score`` (question similarity). Sorted by validation line, the strongest reason first.

    ``shared_answers`` are answers that different tasks legitimately share (an option or a
    command-line flag that answers several questions): a pair whose only link is such an answer
    (a similar question or the same evidence) is not leakage. The same question still is.
    """
    shared = {str(answer) for answer in shared_answers}
    train_q = [question_of(line) for line in train]
    valid_q = [question_of(line) for line in valid]
    found: dict[tuple[int, int], tuple[int, str, float]] = {}
    for v, t, score in _similar_pairs(valid_q, train_q, threshold, same_list=False):
        if score >= 100.0:
            found[v, t] = (0, "same question as", score)
        elif (
            _answer(valid[v]) is not None
            and _answer(valid[v]) not in shared
            and _answer(valid[v]) == _answer(train[t])
            and _numbers(valid_q[v]) == _numbers(train_q[t])
        ):
            found[v, t] = (1, "near-duplicate question with the same answer as", score)
    facts: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for t, line in enumerate(train):
        key = _fact_key(line)
        if key is not None and key[1] not in shared:
            facts.setdefault(key, []).append(t)
    for v, line in enumerate(valid):
        key = _fact_key(line)
        for t in facts.get(key, []) if key else []:
            if (v, t) not in found:
                score = fuzz.ratio(valid_q[v], train_q[t], processor=utils.default_process)
                found[v, t] = (2, "same evidence and answer as", score)
    rows = [
        {
            "valid_index": v,
            "train_index": t,
            "valid_id": valid[v].get("task_id"),
            "train_id": train[t].get("task_id"),
            "reason": reason,
            "score": round(score, 1),
            "rank": rank,
        }
        for (v, t), (rank, reason, score) in found.items()
    ]
    columns = ["valid_index", "train_index", "valid_id", "train_id", "reason", "score", "rank"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["valid_index", "rank", "train_index"], ignore_index=True)
    return frame.drop(columns="rank")
