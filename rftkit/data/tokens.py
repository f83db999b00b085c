"""Token counts with the real o200k_base tokenizer (GPT-4o, GPT-4.1, o3, o4-mini, GPT-5), offline.

tiktoken downloads its BPE file on first use, which fails on an offline machine (tiktoken 0.14 has
no offline switch: openai/tiktoken#513). rftkit ships the file instead, as package data:
``o200k_base.tiktoken.gz`` (1.7 MB), OpenAI's public ``o200k_base.tiktoken`` gzipped, byte-identical
once unpacked to what tiktoken expects (its sha256 is checked on every load). Alternatives
considered: ``bpe-openai`` on PyPI ships the same file but is a 41 MB platform-specific wheel from a
third party; populating tiktoken's cache still needs the file from somewhere, and means setting a
process-wide environment variable.

The split pattern and special tokens still come from tiktoken's own ``o200k_base`` definition;
only its download is replaced by the shipped file.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
from functools import cache
from importlib.resources import files
from typing import Any
from unittest import mock

import tiktoken
from tiktoken_ext import openai_public

BPE_FILE = "o200k_base.tiktoken.gz"
BPE_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_lock = threading.Lock()


def _shipped_ranks() -> dict[bytes, int]:
    """The merge ranks from the shipped file, after checking it is the file tiktoken expects."""
    data = gzip.decompress(files("rftkit.data").joinpath(BPE_FILE).read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    if digest != BPE_SHA256:
        raise RuntimeError(
            f"rftkit/data/{BPE_FILE} is damaged (sha256 {digest}, expected {BPE_SHA256}); "
            "reinstall rftkit"
        )
    ranks = {}
    for row in data.splitlines():
        if row:
            token, rank = row.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@cache
def o200k() -> tiktoken.Encoding:
    """The o200k_base encoding, built from the shipped file without touching the network."""
    ranks = _shipped_ranks()
    with _lock, mock.patch.object(openai_public, "load_tiktoken_bpe", return_value=ranks):
        definition = openai_public.o200k_base()
    return tiktoken.Encoding(**definition)


def count_tokens(text: str) -> int:
    """Tokens in ``text`` as plain text (special-token strings count as ordinary text)."""
    return len(o200k().encode_ordinary(text))


def line_tokens(line: dict[str, Any]) -> int:
    """Tokens of what the model is shown: every message's text plus the tools array as JSON.

    The chat format adds a few tokens per message on top; this counts the content, which is what
    varies between lines.
    """
    total = 0
    for message in line.get("messages", []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            total += sum(count_tokens(p.get("text", "")) for p in content if isinstance(p, dict))
    if line.get("tools"):
        total += count_tokens(json.dumps(line["tools"], ensure_ascii=False))
    return total
