"""The local engine against TRL's GRPOTrainer on the same cores: rollout tokens/s and a GRPO step.

    PYTHONPATH=$PWD python benchmarks/engine_vs_trl.py          # ~1 CPU-minute (3 min, busy cores)
    PYTHONPATH=$PWD python benchmarks/engine_vs_trl.py --quick  # a smoke run, ~10 CPU-seconds
    PYTHONPATH=$PWD python benchmarks/engine_vs_trl.py --sequences 96 --turns 6 --rounds 5

1. **Multi-turn generation.** ``--sequences`` rollouts (a GRPO step's 8 tasks x 6) of ``--turns``
   turns: a ``--prompt-tokens`` prompt, then per turn ``--new-tokens`` sampled tokens followed by a
   ``--tool-tokens`` tool output (the same random ids for every runner), so every runner samples
   exactly the same number of tokens on sequences of the same lengths. The defaults are the shape
   of the base model's course rollouts (4.9 turns and 134 sampled tokens a rollout in
   ``benchmarks/results/local_training.json``):
   - the engine (``rftkit.local``): the committed base checkpoint's ``TinyLM.generate`` as
     ``LocalModelPolicy`` calls it (chunks of ``GENERATE_CHUNK`` rollouts, a banned-token mask and
     one random stream per rollout, temperature 1), with ``cache_across_turns`` (the default: only
     the tool output is encoded, chunks of ``CACHED_CHUNK``) and re-encoding each turn's whole
     prompt (chunks of ``GENERATE_CHUNK``), on one thread as TRL's runs (the policy's default
     two workers split a batch between two threads: a two-core figure, not compared here);
   - TRL: ``GRPOTrainer._generate_single_turn`` itself, TRL 1.16's path without vLLM (left-padded
     ids into ``model.generate`` with the trainer's own ``GenerationConfig``: sampling at
     temperature 1, top-p 1, top-k 0), turn after turn on prompt + completion + tool ids
     concatenated as its ``_tool_call_loop`` does (no re-tokenisation, whole prompt re-encoded).
     Its model is a randomly initialised ``Qwen2ForCausalLM`` of the engine's shape (4 layers,
     4 heads, width 128, the engine's 223-token vocabulary, tied embeddings; a SwiGLU MLP of
     width 341, which matches the engine's 4x GELU MLP in parameters): weights do not change the
     speed. ``min_new_tokens`` is set to the turn's length so that an end-of-turn token sampled by
     the random model does not end a sequence early (the token counts stay equal).
   Tokens/s counts sampled tokens only. Wall and process-CPU seconds are the median of
   ``--rounds`` runs (``--step-rounds`` for the steps), the runners interleaved, so a busy
   machine slows all of them alike; with one thread, CPU seconds are what wall seconds would be
   on quiet cores, so the ratios are given for both.
2. **One GRPO step on the same batch**: the engine's generated sequences (sampled tokens trained,
   prompt and tool outputs masked), the same advantages. The engine: ``rftkit.local.grpo``'s
   ``accumulate_gradients`` (``grpo_loss`` over length buckets with the reference forward and
   backward) on one worker thread, gradient clipping and one AdamW step, as
   ``GRPOTrainer.train_step`` does with ``workers=1``. TRL: the reference model's per-token
   log-probabilities (``_get_per_token_logps_and_entropies``, as ``_generate_and_score_completions``
   computes them), ``GRPOTrainer.compute_loss`` (TRL's default ``dapo`` loss, KL coefficient set to
   the engine's 0.04 so both run a reference forward), ``accelerator.backward``, clipping at TRL's
   ``max_grad_norm`` and one step of the trainer's AdamW. TRL's GRPO turns gradient checkpointing
   on by default; the step is timed with it (TRL's default) and without it (the same maths as the
   engine), and the ratio is taken against the faster of the two.

The trainer is TRL's real ``GRPOTrainer``, built offline on the CPU (a local dataset, a tokenizer
trained here, no model hub), but its ``train()`` loop is not run: each part above is timed alone.
The ratio row is engine tokens/s over TRL tokens/s (higher is better for the engine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import torch  # noqa: E402

from rftkit.local.checkpoint import load_model  # noqa: E402
from rftkit.local.grpo import GRPOConfig as EngineConfig  # noqa: E402
from rftkit.local.grpo import accumulate_gradients  # noqa: E402
from rftkit.local.model import KVCache, TinyLM  # noqa: E402
from rftkit.local.policy import CACHED_CHUNK, GENERATE_CHUNK  # noqa: E402
from rftkit.local.tokenizer import Rendered, SlotTable  # noqa: E402

GROUP = 6  # the engine's group_size: rollouts per task


@dataclass(frozen=True)
class Workload:
    """The same rollouts for every runner: token ids of the prompts and of each turn's tool
    output, and how many tokens each turn samples."""

    prompts: list[list[int]]
    tool_outputs: list[list[list[int]]]  # per turn, per rollout
    new_tokens: int

    @property
    def sampled(self) -> int:
        return len(self.prompts) * len(self.tool_outputs) * self.new_tokens


def workload(args, vocab: int) -> Workload:
    """Random ids from the ordinary tokens (not the specials at the start of the vocabulary)."""
    rng = torch.Generator().manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(16, vocab, (n,), generator=rng).tolist()

    prompts = [ids(args.prompt_tokens) for _ in range(args.sequences)]
    outputs = [[ids(args.tool_tokens) for _ in prompts] for _ in range(args.turns)]
    return Workload(prompts, outputs, args.new_tokens)


# -- the engine ----------------------------------------------------------------------------------
def engine_rollouts(model: TinyLM, work: Workload, *, cache: bool) -> list[list[int]]:
    """Every rollout's ids, turn after turn, generated as ``LocalModelPolicy._generate`` does."""
    streams = [torch.Generator().manual_seed(n) for n in range(len(work.prompts))]
    banned = torch.zeros(model.config.vocab_size, dtype=torch.bool)
    banned[:8] = True  # the policy always bans a few specials; the mask costs the same
    kept = [KVCache.empty() for _ in work.prompts] if cache else None
    sequences = [list(p) for p in work.prompts]
    model.eval()
    for outputs in work.tool_outputs:
        sampled: list[list[int]] = []
        size = CACHED_CHUNK if cache else GENERATE_CHUNK
        for start in range(0, len(sequences), size):
            stop = start + size
            sampled += model.generate(
                sequences[start:stop],
                max_new_tokens=work.new_tokens,
                stop_ids=set(),  # every turn samples exactly new_tokens
                temperature=1.0,
                banned=[banned] * len(sequences[start:stop]),
                generators=streams[start:stop],
                kept=kept[start:stop] if kept is not None else None,
            )
        for sequence, turn, output in zip(sequences, sampled, outputs, strict=True):
            sequence += turn + output
    return sequences


def engine_step(model: TinyLM, reference: TinyLM, rows: list[Rendered], advantages) -> None:
    """One optimizer step as ``rftkit.local.grpo.GRPOTrainer.train_step`` takes it, on one worker
    thread (the trainer's default two take two buckets at a time on two cores; TRL here has one)."""
    config = EngineConfig()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.99))
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with ThreadPoolExecutor(1) as one:
        accumulate_gradients(model, reference, rows, advantages, config, one)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    model.eval()


# -- TRL -----------------------------------------------------------------------------------------
def trl_trainer(args, vocab: int, directory: str):
    """TRL's GRPOTrainer on a random Qwen2 of the engine's shape, built offline (saved to a local
    folder first: with a KL term TRL loads its reference model from the policy's path)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rftkit.trl.tiny import tiny_qwen2, tiny_tokenizer

    tokenizer = tiny_tokenizer(["What was the revenue of Norvale in 2025-Q1?"] * 4)
    torch.manual_seed(0)
    model = tiny_qwen2(
        tokenizer, vocab_size=vocab, hidden_size=128, intermediate_size=341, layers=4, kv_heads=4
    )
    saved = f"{directory}/model"  # with a KL term TRL loads its reference model from a path
    model.save_pretrained(saved)
    length = args.turns * (args.new_tokens + args.tool_tokens)
    settings = GRPOConfig(
        output_dir=directory,
        per_device_train_batch_size=args.sequences,
        num_generations=GROUP,
        max_completion_length=length,
        temperature=1.0,
        beta=EngineConfig().kl_coef,
        learning_rate=EngineConfig().lr,
        use_cpu=True,
        report_to="none",
        seed=0,
    )
    rows = [{"prompt": "What was the revenue?"}] * args.sequences
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = GRPOTrainer(
            model=saved,
            reward_funcs=lambda completions, **_: [0.0] * len(completions),
            args=settings,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )
    trainer.generation_config.min_new_tokens = args.new_tokens
    trainer.generation_config.max_new_tokens = args.new_tokens
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    trainer.current_gradient_accumulation_steps = 1
    return trainer


def trl_rollouts(trainer, work: Workload) -> list[list[int]]:
    """Turn after turn through ``_generate_single_turn``, ids concatenated as TRL's tool loop
    concatenates them (prompt + completion + tool suffix)."""
    sequences = [list(p) for p in work.prompts]
    trainer.model.eval()
    for outputs in work.tool_outputs:
        sampled, _ = trainer._generate_single_turn(sequences, None, {}, num_generations=1)
        if any(len(s) != work.new_tokens for s in sampled):
            raise RuntimeError("a TRL turn sampled another number of tokens than asked")
        for sequence, turn, output in zip(sequences, sampled, outputs, strict=True):
            sequence += turn + output
    return sequences


def trl_step(trainer, work: Workload, rows: list[Rendered], advantages) -> None:
    """One step as TRL's GRPOTrainer takes it, on the engine's batch."""
    prompt = len(work.prompts[0])
    ids = torch.tensor([r.ids for r in rows])
    prompt_ids, completion_ids = ids[:, :prompt], ids[:, prompt:]
    tool_mask = torch.tensor([r.trained[prompt:] for r in rows], dtype=torch.long)
    inputs = {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids,
        "completion_mask": torch.ones_like(completion_ids),
        "tool_mask": tool_mask,
        "advantages": advantages,
        "num_items_in_batch": tool_mask.sum(),  # the dapo loss's normaliser, as TRL sets it
    }
    model = trainer.model
    model.train()
    with torch.no_grad():
        inputs["ref_per_token_logps"], _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.ref_model,
            ids,
            torch.ones_like(ids),
            completion_ids.shape[1],
            batch_size=len(rows),
        )
    trainer.optimizer.zero_grad(set_to_none=True)
    loss = trainer.compute_loss(model, inputs)
    trainer.accelerator.backward(loss)
    torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.args.max_grad_norm)
    trainer.optimizer.step()
    model.eval()


# -- timing and the tables -----------------------------------------------------------------------
def timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def medians(
    runners: dict[str, Callable[[], object]], rounds: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each runner over ``rounds``, runners interleaved."""
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            seen[name].append(timed(run))
    return {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
        for name, s in seen.items()
    }


def batch_rows(sequences: list[list[int]], work: Workload) -> list[Rendered]:
    """The sequences as the trainer sees them: only the sampled tokens are trained."""
    prompt, turn = len(work.prompts[0]), work.new_tokens
    tools = [len(t[0]) for t in work.tool_outputs]
    mask = [False] * prompt
    for tool in tools:
        mask += [True] * turn + [False] * tool
    return [Rendered(list(s), list(mask), SlotTable()) for s in sequences]


def agreement(a: list[list[int]], b: list[list[int]]) -> str:
    same = sum(x == y for x, y in zip(a, b, strict=True))
    return f"{same} of {len(a)} rollouts token for token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=48, help="rollouts (a multiple of 6)")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=120)
    parser.add_argument("--tool-tokens", type=int, default=60)
    parser.add_argument("--new-tokens", type=int, default=28, help="sampled tokens per turn")
    parser.add_argument("--rounds", type=int, default=2, help="generation runs of each runner")
    parser.add_argument("--step-rounds", type=int, default=1, help="GRPO steps of each trainer")
    parser.add_argument("--threads", type=int, default=EngineConfig().threads)
    parser.add_argument("--quick", action="store_true", help="12 rollouts, 2 turns of 16, 1 round")
    if parser.parse_known_args()[0].quick:  # new defaults; options given still win
        parser.set_defaults(sequences=12, turns=2, rounds=1, new_tokens=16, step_rounds=1)
    args = parser.parse_args()
    if args.sequences % GROUP:
        parser.error(f"--sequences must be a multiple of the group size {GROUP}")
    torch.set_num_threads(args.threads)
    model, _ = load_model()
    vocab = model.config.vocab_size
    work = workload(args, vocab)
    with tempfile.TemporaryDirectory() as directory:
        trainer = trl_trainer(args, vocab, directory)
        torch.set_num_threads(args.threads)  # whatever the trainer's setup did
        engine_n = model.num_parameters()
        trl_n = sum(p.numel() for p in trainer.model.parameters())
        length = args.prompt_tokens + args.turns * (args.new_tokens + args.tool_tokens)
        print(
            f"{args.sequences} rollouts x {args.turns} turns x {args.new_tokens} sampled tokens"
            f" ({work.sampled} tokens), prompt {args.prompt_tokens}, tool output"
            f" {args.tool_tokens} per turn, {length} tokens a rollout;"
            f" torch {torch.__version__}, {torch.get_num_threads()} thread(s),"
            f" median of {args.rounds} (steps: {args.step_rounds}); engine {engine_n:,}"
            f" parameters, TRL's Qwen2 {trl_n:,}\n"
        )
        cached = engine_rollouts(model, work, cache=True)
        encoded = engine_rollouts(model, work, cache=False)
        results = medians(
            {
                "engine, re-encoding each turn": lambda: engine_rollouts(model, work, cache=False),
                "engine, cache across turns (default)": lambda: engine_rollouts(
                    model, work, cache=True
                ),
                "TRL GRPOTrainer, transformers generate": lambda: trl_rollouts(trainer, work),
            },
            args.rounds,
        )
        trl_wall, trl_cpu = results["TRL GRPOTrainer, transformers generate"]
        print(
            "| generation | wall s | CPU s | tokens/s (wall) | tokens/s (CPU)"
            " | vs TRL (wall, CPU) |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for name, (wall, cpu) in results.items():
            print(
                f"| {name} | {wall:.2f} | {cpu:.2f} | {work.sampled / wall:,.0f} |"
                f" {work.sampled / cpu:,.0f} | {trl_wall / wall:.2f}x, {trl_cpu / cpu:.2f}x |"
            )
        print(
            f"\nthe engine's samples with and without the cache across turns: "
            f"{agreement(encoded, cached)} (the same random streams)"
        )
        rows = batch_rows(encoded, work)
        advantages = torch.randn(len(rows), generator=torch.Generator().manual_seed(1))
        reference = load_model()[0]
        steps = {"engine GRPO step": lambda: engine_step(model, reference, rows, advantages)}
        steps["TRL GRPOTrainer step (gradient checkpointing, its default)"] = lambda: trl_step(
            trainer, work, rows, advantages
        )
        step_times = medians(steps, args.step_rounds)
        trainer.model.gradient_checkpointing_disable()
        step_times |= medians(
            {
                "TRL GRPOTrainer step (no gradient checkpointing)": lambda: trl_step(
                    trainer, work, rows, advantages
                )
            },
            args.step_rounds,
        )
    trained = sum(sum(r.trained) for r in rows)
    best_trl = min(w for name, (w, _) in step_times.items() if name.startswith("TRL"))
    best_cpu = min(c for name, (_, c) in step_times.items() if name.startswith("TRL"))
    print(
        f"\n| GRPO step on the same {len(rows)} rollouts ({trained} trained tokens) |"
        " wall s | CPU s | vs the faster TRL step (wall, CPU) |"
    )
    print("| --- | --- | --- | --- |")
    for name, (wall, cpu) in step_times.items():
        print(
            f"| {name} | {wall:.2f} | {cpu:.2f} | {best_trl / wall:.2f}x, {best_cpu / cpu:.2f}x |"
        )
    cache, cache_cpu = results["engine, cache across turns (default)"]
    encode, encode_cpu = results["engine, re-encoding each turn"]
    engine_step_wall, engine_step_cpu = step_times["engine GRPO step"]
    print(
        f"\nratio engine / TRL tokens/s: {trl_wall / cache:.2f}x wall,"
        f" {trl_cpu / cache_cpu:.2f}x CPU (default, cache across turns); {trl_wall / encode:.2f}x"
        f" wall, {trl_cpu / encode_cpu:.2f}x CPU (re-encoding). GRPO step TRL / engine:"
        f" {best_trl / engine_step_wall:.2f}x wall,"
        f" {best_cpu / engine_step_cpu:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
