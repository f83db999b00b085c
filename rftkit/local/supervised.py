"""Supervised training of the tiny model on transcripts: cross-entropy on the tokens the
demonstrator wrote (its calls, reasoning and answers), never on the question or tool outputs.

The course's pre-training (on its scripted expert) and a team's warm start (on its reference
solver, ``rftkit.local.warmstart``) both train with :func:`train_cycle`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from rftkit.local.batches import batch_tensors
from rftkit.local.model import TinyLM, cosine_lr
from rftkit.local.tokenizer import Rendered, Tokenizer


@dataclass(frozen=True)
class Optimisation:
    """One cycle's AdamW settings: peak learning rate, warm-up steps, weight decay."""

    lr: float
    warmup: int
    weight_decay: float


def train_cycle(
    model: TinyLM,
    batches: list[list[Rendered]],
    rng: random.Random,
    optimisation: Optimisation,
    steps: int,
    label: str,
    progress: bool,
    slot_weight: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[float]:
    """One cosine cycle with a fresh AdamW: cross-entropy on the demonstrator's own tokens only,
    slot tokens (copied figures and identifiers) weighted by ``slot_weight``. Each step trains on
    a batch drawn with ``rng``; ``should_stop`` is asked every step (a cancelled job)."""
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=optimisation.lr,
        betas=(0.9, 0.95),
        weight_decay=optimisation.weight_decay,
    )
    losses = []
    bar = tqdm(range(steps), desc=label, disable=not progress)
    for step in bar:
        if should_stop():
            break
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, optimisation.lr, optimisation.warmup)
        ids, _, trained = batch_tensors(rng.choice(batches))
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none"
        )
        is_slot = Tokenizer.is_slot(ids[:, 1:].reshape(-1)).float()
        target = trained[:, 1:].reshape(-1).float() * (1 + (slot_weight - 1) * is_slot)
        loss = (loss * target).sum() / target.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    return losses
