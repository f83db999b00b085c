"""Pre-training is reproducible, and a run resumed after its first cycle equals one whole run."""

import torch

from rftkit.local.pretrain import PretrainConfig, load_model, pretrain

TINY = {"worlds": 1, "batch_tokens": 2048, "n_layer": 1, "n_head": 2, "n_embd": 16, "warmup": 1}


def weights(path):
    model, _ = load_model(path)
    return model.state_dict()


def test_resumed_pretraining_equals_one_run(tmp_path):
    whole = pretrain(PretrainConfig(cycles=(3, 2), **TINY), tmp_path / "whole.pt", progress=False)
    pretrain(PretrainConfig(cycles=(3,), **TINY), tmp_path / "first.pt", progress=False)
    pretrain(
        PretrainConfig(cycles=(3, 2), **TINY),
        tmp_path / "resumed.pt",
        progress=False,
        resume_from=tmp_path / "first.pt",
        done_cycles=1,
    )
    assert whole["transcripts_label"] == "scripted expert transcripts (not model outputs)"
    a, b = weights(tmp_path / "whole.pt"), weights(tmp_path / "resumed.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["embed.weight"], weights(tmp_path / "first.pt")["embed.weight"])
