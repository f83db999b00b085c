"""Batches of rendered transcripts for the tiny model: similar lengths together, masks beside the
ids, so pre-training and GRPO pad little and train only on the tokens the model wrote."""

from __future__ import annotations

import torch

from rftkit.local.tokenizer import Rendered


def length_buckets(rows: list[Rendered], batch_tokens: int) -> list[list[Rendered]]:
    """Batches of similar length (little padding) of about ``batch_tokens`` padded tokens."""
    batches, current = [], []
    for row in sorted(rows, key=lambda r: len(r.ids)):
        if current and len(row.ids) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(row)
    return [*batches, current] if current else batches


def batch_tensors(rows: list[Rendered]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, padding mask, and the mask of target tokens the loss may use."""
    width = max(len(r.ids) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    padding = torch.ones(len(rows), width, dtype=torch.bool)
    trained = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, : len(row.ids)] = torch.tensor(row.ids)
        padding[i, : len(row.ids)] = False
        trained[i, : len(row.ids)] = torch.tensor(row.trained)
    return ids, padding, trained
