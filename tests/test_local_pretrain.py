"""Pre-training is reproducible, and a run resumed after its first cycle equals one whole run."""

import pytest
import torch

from rftkit.course.evaluate import teacher_forced_accuracy
from rftkit.course.pretrain import PretrainConfig, pretrain
from rftkit.local.checkpoint import load_model

TINY = {"worlds": 1, "batch_tokens": 2048, "n_layer": 1, "n_head": 2, "n_embd": 16, "warmup": 1}


def weights(path):
    model, _ = load_model(path)
    return model.state_dict()


def test_resumed_pretraining_equals_one_run(tmp_path):
    two_cycles = PretrainConfig(cycles=(3, 2), slot_weights=(1.0, 4.0), **TINY)
    whole = pretrain(two_cycles, tmp_path / "whole.pt", progress=False)
    first = PretrainConfig(cycles=(3,), slot_weights=(1.0,), **TINY)
    pretrain(first, tmp_path / "first.pt", progress=False)
    pretrain(
        two_cycles,
        tmp_path / "resumed.pt",
        progress=False,
        resume_from=tmp_path / "first.pt",
        done_cycles=1,
    )
    assert whole["transcripts_label"] == "scripted expert transcripts (not model outputs)"
    a, b = weights(tmp_path / "whole.pt"), weights(tmp_path / "resumed.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["embed.weight"], weights(tmp_path / "first.pt")["embed.weight"])


def test_the_slot_weight_changes_what_is_learned(tmp_path):
    for weight in (1.0, 4.0):
        config = PretrainConfig(cycles=(3,), slot_weights=(weight,), **TINY)
        pretrain(config, tmp_path / f"w{weight}.pt", progress=False)
    a, b = weights(tmp_path / "w1.0.pt"), weights(tmp_path / "w4.0.pt")
    assert not torch.equal(a["embed.weight"], b["embed.weight"])


def test_every_cycle_needs_its_slot_weight():
    with pytest.raises(ValueError, match="one weight per cycle"):
        PretrainConfig(cycles=(3, 2), slot_weights=(1.0,))


def test_teacher_forced_accuracy_counts_every_token_the_expert_wrote(tmp_path):
    import random

    from rftkit.course.expert import Habits, ScriptedExpert
    from rftkit.course.worlds import build_world, world_seeds
    from rftkit.local.tokenizer import render

    config = PretrainConfig(cycles=(2,), slot_weights=(1.0,), **TINY)
    pretrain(config, tmp_path / "tiny.pt", progress=False)
    model, tokenizer = load_model(tmp_path / "tiny.pt")
    seed = world_seeds(300, 1)[0]
    table = teacher_forced_accuracy(model, tokenizer, [seed], tasks_per_world=3)
    assert set(table["tokens"]) <= {"call slot", "call word", "answer slot", "answer word"}
    assert {"call word", "answer word"} <= set(table["tokens"])
    assert table["accuracy"].between(0, 1).all()
    local = build_world(seed, tmp_path / "w")
    expert = ScriptedExpert(local.world, local.corpus(), Habits(), random.Random(seed))
    written = sum(sum(render(tokenizer, expert.solve(t).items).trained) for t in local.tasks[:3])
    assert table["count"].sum() == written
