"""Top-p (nucleus) sampling in the local engine: the tokens it keeps, and bad values refused."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rftkit.local.grpo import GRPOConfig
from rftkit.local.model import ModelConfig, TinyLM, nucleus
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.tokenizer import Tokenizer

BAD_TOP_P = [-0.1, 1.5, math.nan, math.inf]


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12).filter(lambda w: sum(w) > 0.01),
    top_p=st.floats(0.0, 1.0),
)
def test_the_nucleus_is_the_fewest_likeliest_tokens_that_reach_top_p(weights, top_p):
    probs = torch.tensor([weights]) / sum(weights)
    kept = nucleus(probs, top_p)[0]
    assert torch.isclose(kept.sum(), torch.tensor(1.0))
    chosen = kept > 0
    assert chosen[probs[0].argmax()]  # the likeliest token always stays
    # everything kept is at least as likely as everything dropped
    if (~chosen).any() and chosen.any():
        assert probs[0][chosen].min() >= probs[0][~chosen].max()
    # the kept tokens but the least likely of them held less than top_p: none is one too many
    mass = probs[0][chosen].sum()
    least = probs[0][chosen].min()
    assert mass - least < top_p + 1e-6
    # and they reach top_p, or they are every token there is: none is missing
    assert mass >= top_p - 1e-6 or chosen.all()
    # what was dropped leaves the kept tokens' ratios as they were
    assert torch.allclose(kept[chosen], probs[0][chosen] / mass, atol=1e-6)


def test_top_p_one_leaves_the_distribution_as_it_is():
    probs = torch.softmax(torch.randn(3, 9), -1)
    assert nucleus(probs, 1.0) is probs


@pytest.mark.parametrize("top_p", BAD_TOP_P)
def test_a_top_p_outside_zero_to_one_is_refused_where_it_is_given(top_p):
    with pytest.raises(ValueError, match=r"top_p must be between 0 and 1"):
        nucleus(torch.tensor([[0.5, 0.5]]), top_p)
    with pytest.raises(ValueError, match=r"GRPO settings: top_p must be between 0 and 1"):
        GRPOConfig(top_p=top_p)
    tokenizer = Tokenizer.build(["a b c"])
    model = TinyLM(ModelConfig(len(tokenizer), 16, 1, 1, 8))
    with pytest.raises(ValueError, match=r"top_p must be between 0 and 1"):
        LocalModelPolicy(model, tokenizer, top_p=top_p)


@pytest.mark.parametrize("top_p", [0.0, 1e-6])
def test_a_tiny_nucleus_samples_what_greedy_decoding_picks(top_p):
    torch.manual_seed(0)
    model = TinyLM(ModelConfig(40, 64, 2, 2, 16)).eval()
    prompts = [[1, 5, 7, 9, 11], [1, 12], [3, 3, 3]]
    greedy = model.generate(prompts, max_new_tokens=8, stop_ids=set(), temperature=0)
    streams = [torch.Generator().manual_seed(n) for n in range(len(prompts))]
    sampled = model.generate(
        prompts, max_new_tokens=8, stop_ids=set(), temperature=1.0, top_p=top_p, generators=streams
    )
    assert sampled == greedy
    # and the whole distribution does not (the check above can fail)
    streams = [torch.Generator().manual_seed(n) for n in range(len(prompts))]
    full = model.generate(
        prompts, max_new_tokens=8, stop_ids=set(), temperature=1.0, generators=streams
    )
    assert full != greedy
