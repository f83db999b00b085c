"""Supervised pre-training of the base model on the scripted expert's transcripts.

The whole loop is here, top to bottom: build transcripts from pre-training worlds (never the
validation or held-out ones), fix the vocabulary, then minimise cross-entropy on the tokens the
expert wrote (its calls, reasoning segments and answers), never on the question or tool outputs.
The expert has every habit RL can remove (``BASE_HABITS``: wasted calls, parallel reads only
sometimes, verbose reasoning, exploring after the answer is known, a slow route), and the
tokenizer has turn markers. Deterministic for a given config: same seed, same checkpoint (on the
same torch build and thread count).

    rftkit local pretrain --seed 0 --out rftkit/local/checkpoints/base.pt

Training runs in cosine cycles with warm restarts (a fresh optimizer each cycle). ``resume_from``
continues a run whose first cycles are done: it replays the batch draws of those cycles so the
rest sees the batches a single run would have seen.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from rftkit.course.expert import BASE_HABITS, Habits, ScriptedExpert
from rftkit.course.world.facts import SECTORS, quarter_label
from rftkit.course.world.names import TWIN_SUFFIXES
from rftkit.course.worlds import PRETRAIN_SEEDS, build_world, world_seeds
from rftkit.local.batches import length_buckets
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.supervised import Optimisation
from rftkit.local.supervised import train_cycle as supervised_cycle
from rftkit.local.tokenizer import Rendered, Tokenizer, render


@dataclass
class PretrainConfig:
    seed: int = 0
    worlds: int = 40
    cycles: tuple[int, ...] = (380, 240, 1500)  # cosine cycles, warm restarts (fresh optimizer)
    # Loss weight of figure/identifier (slot) tokens per cycle: after two plain cycles the model
    # wrote calls well but copied the wrong figure into half its answers, so the last cycle
    # weights the copying tokens up.
    slot_weights: tuple[float, ...] = (1.0, 1.0, 4.0)
    batch_tokens: int = 6144
    lr: float = 2e-3
    warmup: int = 30
    weight_decay: float = 0.05
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    # Multi-hop transcripts with the base habits run to ~1,500 tokens; 1,024 keeps all but 0.7%
    # of them (768 dropped 4%, nearly all multi-hop, and the model never learned those tasks).
    block_size: int = 1024
    threads: int = 2
    habits: Habits = field(default_factory=lambda: BASE_HABITS)
    turn_markers: bool = True  # reasoning segments and several calls per turn

    def __post_init__(self) -> None:
        if len(self.slot_weights) != len(self.cycles):
            raise ValueError(
                f"slot_weights {self.slot_weights} needs one weight per cycle {self.cycles}"
            )


def scripted_transcripts(
    seeds: list[int], directory: Path, habits: Habits, rng: random.Random
) -> tuple[list[list[dict]], set[str]]:
    """The expert's conversations on every task of these worlds, and the worlds' invented names
    (which must stay out of the vocabulary: unseen worlds have other ones)."""
    conversations, names = [], set()
    for seed in seeds:
        local = build_world(seed, directory)
        expert = ScriptedExpert(local.world, local.corpus(), habits, rng)
        conversations += [expert.solve(task).items for task in local.tasks]
        names |= {company.name.split()[0] for company in local.world.companies}
    return conversations, names


def build_tokenizer(
    conversations: list[list[dict]], names: set[str], *, turn_markers: bool = False
) -> Tokenizer:
    """Vocabulary of the transcripts without company-name words, segment names and quarters: those
    are copied from the question, and copying works through slots (a first model with them in its
    vocabulary wrote its favourite sector and quarter into every path instead of the question's).
    ``turn_markers`` (reasoning segments, several calls per turn) is for a new checkpoint only."""
    texts = []
    for items in conversations:
        for item in items:
            texts += [str(item.get(k, "")) for k in ("content", "name", "arguments", "output")]
            texts += [str(part.get("text", "")) for part in item.get("summary", [])]
    texts += ["no file 'reports/x.md'; list_files('reports') shows what exists"]
    name_words = {w for sector in SECTORS for w in (*sector.words, *sector.segments)}
    name_words |= set(TWIN_SUFFIXES) | names | {quarter_label(i) for i in range(40)}
    return Tokenizer.build(texts, exclude=name_words, turn_markers=turn_markers)


def pretrain(
    config: PretrainConfig,
    out: Path,
    progress: bool = True,
    resume_from: Path | None = None,
    done_cycles: int = 0,
) -> dict[str, object]:
    """Train the base model and save it to ``out``; return a summary with timings."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    seeds = world_seeds(PRETRAIN_SEEDS, config.worlds)
    with tempfile.TemporaryDirectory() as directory:
        conversations, names = scripted_transcripts(seeds, Path(directory), config.habits, rng)
    tokenizer = build_tokenizer(conversations, names, turn_markers=config.turn_markers)
    rendered = [render(tokenizer, items) for items in conversations]
    rows = [row for row in rendered if len(row.ids) <= config.block_size]
    model_config = ModelConfig(
        len(tokenizer), config.block_size, config.n_layer, config.n_head, config.n_embd
    )
    batches = length_buckets(rows, config.batch_tokens)
    model = TinyLM(model_config)
    if resume_from is not None:
        model.load_state_dict(torch.load(resume_from, weights_only=False)["state"])
        for _ in range(sum(config.cycles[:done_cycles])):
            rng.choice(batches)  # the draws the finished cycles made
    data_seconds = time.perf_counter() - started
    losses: list[float] = []
    for cycle, steps in enumerate(config.cycles[done_cycles:], start=done_cycles + 1):
        slot_weight = config.slot_weights[cycle - 1]
        losses += train_cycle(
            model, batches, rng, config, steps, f"pretrain {cycle}", progress, slot_weight
        )
    seconds = time.perf_counter() - started
    summary = {
        "transcripts": len(rows),
        "transcripts_over_context": len(rendered) - len(rows),
        "transcripts_label": "scripted expert transcripts (not model outputs)",
        "world_seeds": [seeds[0], seeds[-1]],
        "parameters": model.num_parameters(),
        "vocab": len(tokenizer),
        "final_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4),
        "data_seconds": round(data_seconds, 1),
        "total_seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out, tokenizer=tokenizer.state_dict(), pretrain=asdict(config), summary=summary)
    return summary


def train_cycle(
    model: TinyLM,
    batches: list[list[Rendered]],
    rng: random.Random,
    config: PretrainConfig,
    steps: int,
    label: str,
    progress: bool,
    slot_weight: float = 1.0,
) -> list[float]:
    """One cosine cycle with the config's AdamW settings (``rftkit.local.supervised``)."""
    optimisation = Optimisation(config.lr, config.warmup, config.weight_decay)
    return supervised_cycle(
        model, batches, rng, optimisation, steps, label, progress, slot_weight
    )
