"""Fixtures shared by the local engine's tests."""

import random

import pytest

from rftkit.local.expert import Habits
from rftkit.local.pretrain import build_tokenizer, scripted_transcripts


@pytest.fixture(scope="session")
def scripted_world(tmp_path_factory):
    """The scripted expert's conversations on world 1001 and a tokenizer built from them."""
    conversations, names = scripted_transcripts(
        [1001], tmp_path_factory.mktemp("w"), Habits(), random.Random(0)
    )
    return build_tokenizer(conversations, names), conversations
