"""o200k_base token counts from the shipped BPE file, with the network unreachable."""

import hashlib
import inspect
import json
import socket

import pytest
from tiktoken_ext import openai_public

from rftkit.course.dataset import course_dataset
from rftkit.data import count_tokens, line_tokens
from rftkit.data import tokens as tokens_module

# Token ids published by tiktoken ports' test suites (e.g. js-tiktoken) for o200k_base.
KNOWN = [
    ("hello world", [24912, 2375]),
    (" 日本語とEnglish 12345!\n", [17428, 40909, 5330, 28881, 220, 7633, 2548, 4175]),
    ("\u001ca", [216, 64]),
    ("a\n\n", [64, 279]),
    ("<|endoftext|>", [27, 91, 419, 1440, 919, 91, 29]),
    ("", []),
]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails, as on a machine without network."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # no cached download to fall back on


@pytest.mark.parametrize(("text", "ids"), KNOWN)
def test_known_token_ids_offline(no_network, text, ids):
    tokens_module.o200k.cache_clear()
    assert tokens_module.o200k().encode_ordinary(text) == ids
    assert count_tokens(text) == len(ids)


def test_the_shipped_file_is_the_one_tiktoken_expects():
    assert tokens_module.BPE_SHA256 in inspect.getsource(openai_public.o200k_base)
    assert tokens_module.o200k().n_vocab == 200019
    assert tokens_module.o200k().name == "o200k_base"


def test_a_damaged_file_is_refused(monkeypatch):
    monkeypatch.setattr(tokens_module, "BPE_SHA256", hashlib.sha256(b"other").hexdigest())
    with pytest.raises(RuntimeError, match="is damaged"):
        tokens_module._shipped_ranks()


def test_line_tokens_counts_messages_and_tools():
    line = course_dataset(seed=0, n=1)[0]
    parts = [m["content"] for m in line["messages"]]
    expected = sum(count_tokens(p) for p in parts) + count_tokens(json.dumps(line["tools"]))
    assert line_tokens(line) == expected > 500
    assert line_tokens({"messages": [{"role": "user", "content": "hello world"}]}) == 2
