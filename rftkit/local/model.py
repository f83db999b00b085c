"""A small decoder-only transformer with rotary positions (read it like nanoGPT's model.py).

Pre-norm blocks of causal self-attention and an MLP; rotary position embeddings, so the model
matches "the number after *this* key" by relative position wherever a tool output lands. About
1M parameters with the defaults. ``generate`` samples a batch of left-padded prompts with a
key/value cache, which is what makes GRPO rollouts on two CPU cores cheap; given each prompt's
:class:`KVCache` from its earlier turns, it encodes only the tokens added since (tool outputs),
never the conversation from the start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class ModelConfig:
    vocab_size: int
    block_size: int = 768
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


def rotary_tables(head_dim: int, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for integer ``positions`` of shape (B, T): each (B, 1, T, head_dim/2)."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = positions.float()[..., None] * inv_freq
    return angles.cos()[:, None], angles.sin()[:, None]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of ``x`` (B, H, T, D) by the position's angles."""
    first, second = x[..., ::2], x[..., 1::2]
    rotated = torch.stack((first * cos - second * sin, first * sin + second * cos), dim=-1)
    return rotated.flatten(-2)


def checked_top_p(top_p: float, setting: str = "top_p") -> float:
    """``top_p`` if it is between 0 and 1 (NaN is not); a ValueError naming ``setting`` if not."""
    if not 0 <= top_p <= 1:
        raise ValueError(f"{setting} must be between 0 and 1, not {top_p}")
    return top_p


def nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """``probs`` (B, V) restricted to each row's nucleus and renormalised: the most likely tokens
    whose probabilities, in decreasing order, first reach ``top_p`` (the top token always stays,
    so 0 keeps only it). Top-p sampling as in Holtzman et al. 2019, TRL's ``GRPOConfig.top_p``
    and OpenAI's ``top_p`` (0 to 1); ``top_p`` 1 is the whole distribution, returned as it is."""
    if checked_top_p(top_p) == 1:
        return probs
    ordered, order = probs.sort(-1, descending=True)
    before = ordered.cumsum(-1) - ordered  # mass of the more likely tokens
    inside = before < top_p
    inside[..., 0] = True
    kept = torch.zeros_like(probs).scatter(-1, order, ordered * inside)
    return kept / kept.sum(-1, keepdim=True)


def _cached(cache: dict, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append ``k``/``v`` (B, H, T, D) to a layer's cache and return all keys and values so far.

    The buffers are allocated once, ``cache["capacity"]`` positions long, and written in place:
    concatenating a new, slightly longer tensor at every generated token cost a multi-MB
    allocation per token and layer, which fragmented the heap (or, with large blocks mapped,
    page-faulted) on every step."""
    start = cache.get("length", 0)
    end = start + k.shape[2]
    if "k" not in cache:
        B, H, _, D = k.shape
        cache["k"] = k.new_empty(B, H, max(cache.get("capacity", 0), end), D)
        cache["v"] = v.new_empty(B, H, max(cache.get("capacity", 0), end), D)
    if end > cache["k"].shape[2]:
        raise ValueError(f"the cache holds {cache['k'].shape[2]} positions, not {end}")
    cache["k"][:, :, start:end] = k
    cache["v"][:, :, start:end] = v
    cache["length"] = end
    return cache["k"][:, :, :end], cache["v"][:, :, :end]


@dataclass
class KVCache:
    """One sequence's keys and values, kept between ``generate`` calls (a rollout's turns).

    ``ids`` are the tokens encoded so far and ``layers`` their (keys, values) per layer, each
    (heads, len(ids), head_dim). ``generate`` reads the prefix of a prompt from here and extends
    it with what it encoded; the tokens must match the prompt's start, or it refuses.

    Keys computed one token at a time differ from a whole-prompt prefill's in the last float bits
    (both are exact maths; the kernels round differently), so a sample drawn with a cache can in
    principle differ from one drawn by re-encoding; see ``LocalModelPolicy``."""

    ids: list[int]
    layers: list[tuple[torch.Tensor, torch.Tensor]]

    @classmethod
    def empty(cls) -> KVCache:
        return cls([], [])

    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in self.layers)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.dropout = config.dropout

    def forward(self, x, cos, sin, mask, cache=None):
        B, T, C = x.shape
        H = self.n_head
        qkv = self.qkv(x).view(B, T, 3 * H, C // H).transpose(1, 2)  # (B, 3H, T, D)
        # Queries and keys rotate in one call: the same elementwise maths in half the torch ops,
        # which is what a decode step of a model this small spends its time on.
        q, k = apply_rotary(qkv[:, : 2 * H], cos, sin).split(H, dim=1)
        v = qkv[:, 2 * H :]
        if cache is not None:  # write into this layer's preallocated keys and values
            k, v = _cached(cache, k, v)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=mask is None
        )
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.down = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.attn(self.ln1(x), cos, sin, mask, cache)
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    """Token embedding -> n_layer blocks -> layer norm -> tied output head."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # weight tying, as in GPT-2
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        ids: torch.Tensor,
        padding: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        caches: list[dict] | None = None,
        past_padding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab) for ``ids`` (B, T).

        Without ``padding`` attention is plain causal (right padding needs nothing: no real token
        sees a later pad). ``padding`` (B, T) is True at left-pad positions, never attended to.
        With ``caches`` the call continues earlier ones: ``past_padding`` is the padding of
        the cached positions and ``positions`` the rotary positions of the new tokens.
        """
        B, T = ids.shape
        if padding is None:  # no left padding: plain causal attention, the fast kernel
            mask = None
            positions = torch.arange(T)[None] if positions is None else positions
        else:
            if positions is None:
                positions = (~padding).long().cumsum(1) - 1
            mask = self._attention_mask(padding, past_padding)
        cos, sin = rotary_tables(self.config.n_embd // self.config.n_head, positions.clamp(min=0))
        x = self.embed(ids)
        for number, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, None if caches is None else caches[number])
        return self.head(self.ln_f(x))

    @staticmethod
    def _attention_mask(padding: torch.Tensor, past_padding: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, T, past+T): causal, never a pad key, and every query sees at least itself."""
        T = padding.shape[1]
        past = 0 if past_padding is None else past_padding.shape[1]
        key_padding = padding if past_padding is None else torch.cat((past_padding, padding), 1)
        if T == 1:  # a decode step: the same mask in three torch calls instead of ten
            mask = ~key_padding[:, None, None, :]
            mask[..., past] = True
            return mask
        causal = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal=past)
        itself = torch.zeros(T, past + T, dtype=torch.bool)
        itself[torch.arange(T), past + torch.arange(T)] = True
        return (causal[None, None] & ~key_padding[:, None, None, :]) | itself[None, None]

    @torch.no_grad()
    def generate(
        self,
        prompts: list[list[int]],
        *,
        max_new_tokens: int,
        stop_ids: set[int],
        temperature: float = 1.0,
        top_p: float = 1.0,
        banned: list[torch.Tensor] | None = None,
        generators: list[torch.Generator] | None = None,
        kept: list[KVCache] | None = None,
    ) -> list[list[int]]:
        """Sample a continuation of each prompt until a stop token (included) or the limit.

        ``banned`` holds, per prompt, a boolean mask over the vocabulary of tokens that may not be
        sampled (e.g. slots no figure has been assigned to). Temperature 0 means greedy;
        ``top_p`` below 1 samples from each step's nucleus (:func:`nucleus`).
        ``generators`` holds one random stream per prompt, drawn from only while that prompt is
        still generating, so a prompt's sample does not depend on what it was batched with.
        ``kept`` holds one :class:`KVCache` per prompt: its prefix is read from there instead of
        being encoded again, and the cache is extended with the prompt's rest and the sample
        (all but its last token, which the next prompt's new tokens start with).
        """
        B = len(prompts)
        if kept is not None and any(cache.ids for cache in kept):
            caches, past_padding, logits = self._continue(prompts, kept, max_new_tokens)
        else:
            width = max(len(p) for p in prompts)
            ids = torch.zeros(B, width, dtype=torch.long)
            padding = torch.ones(B, width, dtype=torch.bool)
            for row, prompt in enumerate(prompts):
                ids[row, width - len(prompt) :] = torch.tensor(prompt)
                padding[row, width - len(prompt) :] = False
            caches = [{"capacity": width + max_new_tokens} for _ in self.blocks]
            logits = self(ids, padding, caches=caches)[:, -1]
            past_padding = padding
        positions = torch.tensor([len(p) for p in prompts])[:, None]
        last_position = max(len(p) for p in prompts)
        outputs: list[list[int]] = [[] for _ in range(B)]
        # Per-row bookkeeping in Python lists: a decode step of this small a model costs about
        # as much as the torch calls it makes, and indexing tensors row by row was many of them.
        done = [False] * B
        ban = torch.stack(banned) if banned is not None else None
        step_padding = torch.zeros(B, 1, dtype=torch.bool)
        for _ in range(max_new_tokens):
            if ban is not None:
                logits = logits.masked_fill(ban, float("-inf"))
            if temperature <= 0:
                token = logits.argmax(-1)
            else:
                probs = nucleus(F.softmax(logits / temperature, dim=-1), top_p)
                token = self._sample(probs, done, generators)
            for row, value in enumerate(token.tolist()):
                if not done[row]:
                    outputs[row].append(value)
                    done[row] = value in stop_ids
            if all(done) or last_position + 1 >= self.config.block_size:
                break
            logits = self(token[:, None], step_padding, positions, caches, past_padding)[:, -1]
            past_padding = torch.cat((past_padding, step_padding), 1)
            positions = positions + 1
            last_position += 1
        if kept is not None:
            self._keep(prompts, outputs, caches, past_padding, kept)
        return outputs

    def _continue(
        self, prompts: list[list[int]], kept: list[KVCache], max_new_tokens: int
    ) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
        """Load each prompt's kept keys and values, then encode only its new tokens.

        Layout per row: [pad][kept prefix][pad][new tokens], left-aligned by padding on both
        parts; pads are masked as keys, and the new tokens get their true rotary positions."""
        B = len(prompts)
        used = []
        for row, (prompt, cache) in enumerate(zip(prompts, kept, strict=True)):
            reuse = min(len(cache.ids), len(prompt) - 1)  # at least one token to encode
            if prompt[:reuse] != cache.ids[:reuse]:
                raise ValueError(f"prompt {row}'s start is not the tokens its cache holds")
            used.append(reuse)
        past = max(used)
        width = max(len(p) - u for p, u in zip(prompts, used, strict=True))
        ids = torch.zeros(B, width, dtype=torch.long)
        padding = torch.ones(B, width, dtype=torch.bool)
        past_padding = torch.ones(B, past, dtype=torch.bool)
        H, D = self.config.n_head, self.config.n_embd // self.config.n_head
        capacity = past + width + max_new_tokens
        caches = [
            {
                "k": torch.zeros(B, H, capacity, D),
                "v": torch.zeros(B, H, capacity, D),
                "length": past,
            }
            for _ in self.blocks
        ]
        for row, (prompt, cache, reuse) in enumerate(zip(prompts, kept, used, strict=True)):
            new = prompt[reuse:]
            ids[row, width - len(new) :] = torch.tensor(new)
            padding[row, width - len(new) :] = False
            past_padding[row, past - reuse :] = False
            for layer, (k, v) in zip(caches, cache.layers, strict=False):
                layer["k"][row, :, past - reuse : past] = k[:, :reuse]
                layer["v"][row, :, past - reuse : past] = v[:, :reuse]
        positions = torch.tensor(used)[:, None] + (~padding).long().cumsum(1) - 1
        logits = self(ids, padding, positions, caches, past_padding)[:, -1]
        return caches, torch.cat((past_padding, padding), 1), logits

    @staticmethod
    def _keep(
        prompts: list[list[int]],
        outputs: list[list[int]],
        caches: list[dict],
        padding: torch.Tensor,
        kept: list[KVCache],
    ) -> None:
        """Store each row's encoded tokens (prompt, then the sample but its last token)."""
        for row, (prompt, output, cache) in enumerate(zip(prompts, outputs, kept, strict=True)):
            fed = output[:-1]
            columns = (~padding[row]).nonzero()[:, 0][: len(prompt) + len(fed)]
            cache.ids = prompt + fed
            cache.layers = [
                (layer["k"][row][:, columns].clone(), layer["v"][row][:, columns].clone())
                for layer in caches
            ]

    @staticmethod
    def _sample(
        probs: torch.Tensor, done: list[bool], generators: list[torch.Generator] | None
    ) -> torch.Tensor:
        """One token per row; finished rows get 0 and leave their stream untouched."""
        if generators is None:
            return torch.multinomial(probs, 1)[:, 0]
        tokens = [
            0 if finished else int(torch.multinomial(row, 1, generator=generator))
            for row, finished, generator in zip(probs, done, generators, strict=True)
        ]
        return torch.tensor(tokens)

    def save(self, path, **extra) -> None:
        torch.save({"config": asdict(self.config), "state": self.state_dict(), **extra}, path)


def sequence_logprobs(model: TinyLM, ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(ids[:, t] | ids[:, :t]) for t >= 1 at ``temperature``, shape (B, T-1); right
    padding is fine here (no real token attends to a later pad)."""
    logits = model(ids[:, :-1]) / max(temperature, 1e-6)
    return torch.gather(F.log_softmax(logits, -1), 2, ids[:, 1:, None])[..., 0]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is True (0 when nothing is selected)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10% of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
