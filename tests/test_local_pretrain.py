"""Pre-training is reproducible, and a run resumed after its first cycle equals one whole run."""

import pytest
import torch

from rftkit.local.pretrain import PretrainConfig, load_model, pretrain

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
