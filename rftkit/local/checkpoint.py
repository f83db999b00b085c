"""The local engine's checkpoints: where the committed base model lives, its id, and loading one.

A checkpoint holds the model's config, its weights and its tokenizer, so one file is enough to
run it. The base checkpoint ships inside the package (``rftkit/local/checkpoints/base.pt``); the
course's pre-training (:mod:`rftkit.course.pretrain`) writes it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.tokenizer import Tokenizer

BASE_CHECKPOINT = Path(__file__).parent / "checkpoints" / "base.pt"
BASE_MODEL = "rftkit-tinylm-base"
"""The committed base checkpoint's model id, as a task or the local fine-tuning API names it."""
BASE_TOOLS = frozenset({"search", "list_files", "read_file", "calculator"})
"""The tools the committed base checkpoint was pre-trained to call: a fact about that file (the
course's toolbox, ``rftkit.course.tools.COURSE_TOOLS``, when it was trained; a test keeps the two
equal), so the local job can say when a task's tools are ones the model never saw."""


def load_model(path: str | Path = BASE_CHECKPOINT) -> tuple[TinyLM, Tokenizer]:
    """A checkpoint written by ``pretrain`` or the GRPO trainer -> (model, tokenizer)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = TinyLM(ModelConfig(**state["config"]))
    model.load_state_dict(state["state"])
    model.eval()
    return model, Tokenizer.from_state_dict(state["tokenizer"])
