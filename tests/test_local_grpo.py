"""GRPO maths and a few real steps against the tool service under uvicorn (tiny model)."""

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from rftkit.local.batches import length_buckets
from rftkit.local.grpo import (
    GRPOConfig,
    GRPOTrainer,
    accumulate_gradients,
    group_advantages,
    group_varies,
    grpo_loss,
    kl_to_reference,
    metric_means,
)
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.tokenizer import render
from rftkit.protocol import FunctionSpanData, GenerationSpanData, Span, Trace, Usage


def test_advantages_are_normalised_within_each_group():
    adv = group_advantages([1.0, 0.0, 0.5, 0.5, 2.0, 4.0], ["a", "a", "b", "b", "c", "c"])
    assert adv[0] == pytest.approx(1.0, abs=1e-3) and adv[1] == pytest.approx(-1.0, abs=1e-3)
    assert adv[2] == adv[3] == 0.0  # equal rewards teach nothing
    assert adv[4] == pytest.approx(-1.0, abs=1e-3) and adv[5] == pytest.approx(1.0, abs=1e-3)


def test_triage_keeps_any_task_whose_rewards_differ():
    assert group_varies([0.0, 0.9, 0.0])
    assert group_varies([-0.5, -0.2])  # the flat cost on a task never solved: calls still vary
    assert not group_varies([0.0, 0.0, 0.0]) and not group_varies([0.9, 0.9])
    assert not group_varies([1.0])  # one rollout says nothing about variance


def test_kl_estimate_is_zero_at_the_reference_and_positive_elsewhere():
    logp = torch.log(torch.tensor([0.5, 0.2, 0.9]))
    assert torch.allclose(kl_to_reference(logp, logp), torch.zeros(3))
    assert (kl_to_reference(logp, torch.log(torch.tensor([0.4, 0.3, 0.8]))) > 0).all()


@pytest.fixture(scope="module")
def tiny(scripted_world):
    tokenizer, conversations = scripted_world
    torch.manual_seed(0)
    config = ModelConfig(len(tokenizer), block_size=512, n_layer=2, n_head=2, n_embd=32)
    return TinyLM(config), tokenizer, conversations


def test_tool_outputs_and_the_question_never_get_gradient(tiny):
    model, tokenizer, conversations = tiny
    row = render(tokenizer, conversations[0])
    reference = TinyLM(model.config)
    reference.load_state_dict(model.state_dict())
    captured = []

    def keep_logits(_module, _inputs, logits):
        logits.retain_grad()
        captured.append(logits)

    hook = model.head.register_forward_hook(keep_logits)
    try:
        loss, info = grpo_loss(model, reference, [row], torch.tensor([1.5]), 0.1, 1.0)
        loss.backward()
    finally:
        hook.remove()
    model.zero_grad()
    # logits at position t predict token t+1: only positions predicting sampled tokens get grad
    per_position = captured[0].grad[0].abs().sum(-1)
    predicts_trained = torch.tensor(row.trained[1:])
    assert info["tokens"] == int(predicts_trained.sum()) > 0
    assert per_position[~predicts_trained].max() == 0
    assert (per_position[predicts_trained] > 0).all()


def test_bucket_gradients_on_two_workers_are_the_sequential_sum_bit_for_bit(tiny):
    """The loss step's buckets run on two threads; the gradient and figures must be exactly
    what ``backward()`` bucket after bucket gives, or a run would change with the thread count."""
    base, tokenizer, conversations = tiny
    reference, model = copy.deepcopy(base).eval(), copy.deepcopy(base)
    with torch.no_grad():  # move away from the reference, so the KL term has a gradient too
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    config = GRPOConfig(batch_tokens=1200)
    rows = [render(tokenizer, c) for c in conversations[:16]]
    advantages = torch.linspace(-1.5, 1.5, len(rows))
    buckets = length_buckets(rows, config.batch_tokens)
    assert len(buckets) >= 4

    total = sum(sum(r.trained) for r in rows)
    index = {id(r): n for n, r in enumerate(rows)}
    expected = {"kl": 0.0, "loss": 0.0}

    def step_before_the_workers() -> None:  # the loss step as it was written before
        for bucket in buckets:
            picked = torch.tensor([index[id(r)] for r in bucket])
            loss, info = grpo_loss(model, reference, bucket, advantages[picked], 0.04, 1.0)
            weight = info["tokens"] / total
            (loss * weight).backward()
            expected["kl"] += info["kl"] * weight
            expected["loss"] += loss.item() * weight

    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.threads)  # as the trainer does, for every thread started later
    try:
        # on a new thread, like the workers: a thread keeps the intra-op thread count it first
        # saw, and another test may have left this one with another count
        with ThreadPoolExecutor(1) as one:
            one.submit(step_before_the_workers).result()
        sequential = [p.grad.clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        with ThreadPoolExecutor(2) as threads:
            stats = accumulate_gradients(model, reference, rows, advantages, config, threads)
    finally:
        torch.set_num_threads(threads_before)
    assert stats == expected
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), sequential, strict=True))
    assert any(g.abs().sum() > 0 for g in sequential)


SIMILARITY = {  # a graded config with variance even for an untrained model's text
    "type": "text_similarity",
    "name": "similarity",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}


def test_triage_keeps_what_three_rollouts_each_keep_for_fewer_rollouts(
    tiny, tiny_course_task, tmp_path
):
    model, tokenizer, _ = tiny
    task, env = tiny_course_task.task, tiny_course_task.env
    items = task.items("train")
    constant = items[0]["task_id"]
    grader = {  # the first line's rewards always tie, so it gets a third rollout and is dropped
        "type": "python",
        "name": "ties",
        "source": "def grade(sample, item):\n"
        f"    if item['task_id'] == {constant!r}:\n        return 0.5\n"
        "    return len(sample['output_text']) % 5 / 4\n",
    }

    def trainer(name):
        config = GRPOConfig(triage_repeats=3, max_episode_steps=2, seed=7)
        made = GRPOTrainer(
            config,
            model,
            tokenizer,
            tmp_path / name,
            train_items=items,
            valid_items=[],
            tools=task.job_tools(env),
            grader=grader,
        )
        made.policy.max_turn_tokens = 12
        return made

    sequential = trainer("sequential")
    ran = []
    rollouts = sequential._rollouts
    sequential._rollouts = lambda lines, repeats, phase: (
        ran.append(len(lines) * repeats) or (rollouts(lines, repeats, phase))
    )
    sequential.triage()

    full = trainer("full")  # the same model and seed, every line three times at once
    traces = full._rollouts(items, 3, "triage")
    rewards = {}
    for trace in traces:
        rewards.setdefault(trace.item_id, []).append(trace.reward)
    kept = [item for item in items if group_varies(rewards[item["task_id"]])]

    assert sequential.train_items == kept and 0 < len(kept) < len(items)
    assert ran[0] == 2 * len(items) and sum(ran) < 3 * len(items)  # the saved rollouts
    assert sequential.policy._started == full.policy._started  # later streams are the same
    message = next(e["message"] for e in sequential.events if "triage" in e["message"])
    assert f"{len(kept)} of {len(items)} tasks kept" in message
    assert f"of {sum(ran)} rollouts were scored" in message


def test_a_few_grpo_steps_over_http_change_weights_and_emit_events(
    tiny, tiny_course_task, tmp_path
):
    model, tokenizer, _ = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = GRPOConfig(
        steps=2,
        tasks_per_step=2,
        group_size=3,
        lr=1e-2,
        max_episode_steps=2,
        triage_repeats=2,
        eval_interval=2,
    )
    task, env = tiny_course_task.task, tiny_course_task.env
    grader = SIMILARITY
    events = []
    trainer = GRPOTrainer(
        config,
        model,
        tokenizer,
        tmp_path,
        train_items=task.items("train"),
        valid_items=task.items("validation"),
        tools=task.job_tools(env),
        grader=grader,
        on_event=events.append,
    )
    trainer.policy.max_turn_tokens = 12
    trainer.run(progress=False)
    metrics = [e for e in events if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == [0, 1, 2]
    start = metrics[0]["data"]  # the starting model, validated before any step: no train figures
    assert start["train_mean_reward"] is None and start["rollouts"] == 0 and start["kl"] is None
    assert start["full_valid_mean_reward"] is not None and (tmp_path / "step-0.pt").exists()
    assert [c["step_number"] for c in trainer.checkpoints] == [2]  # trained ones, as hosted
    assert all(e["object"] == "fine_tuning.job.event" for e in events)
    last = metrics[-1]["data"]
    assert last["full_valid_mean_reward"] is not None and last["rollouts"] == 6
    assert set(last["timing"]["step"]) == {"sampling", "training", "eval", "full_iteration"}
    assert trainer.checkpoints[-1]["step_number"] == 2
    # the tool-use patterns, as rftkit.analysis measures them: at least the answer turn, one call
    # per turn (the local model's habit), no reasoning segment
    assert last["turns_per_rollout"] >= 1 and last["valid_turns"] >= 1
    assert not last["parallel_turn_share"] > 0  # 0, or NaN when no turn called a tool
    assert last["reasoning_tokens_per_rollout"] == 0.0
    assert (tmp_path / "step-2.pt").exists()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "GRPO steps left every weight unchanged"
    reference = trainer.reference.state_dict()
    assert all(torch.equal(reference[k], before[k]) for k in before)  # the base stays frozen


def _rollout(item_id: str, calls_per_turn: list[int], reasoning: int, reward: float) -> Trace:
    """Turns calling ``search`` the given numbers of times, then an answer turn."""
    datas = []
    for n, calls in enumerate(calls_per_turn):
        requests = [{"id": f"c{n}{i}", "function": {"name": "search", "arguments": "{}"}}
                    for i in range(calls)]  # fmt: skip
        usage = Usage(reasoning_tokens=reasoning)
        datas.append(GenerationSpanData(tool_calls=requests, usage=usage))
        datas += [FunctionSpanData(name="search", input="{}", status_code=200)] * calls
    datas.append(GenerationSpanData(output_text="x", usage=Usage(reasoning_tokens=reasoning)))
    spans = [Span(trace_id=item_id, span_id=f"s{n}", started_at=n, ended_at=n + 1, span_data=d)
             for n, d in enumerate(datas)]  # fmt: skip
    return Trace(trace_id=item_id, item_id=item_id, policy="hand", status="completed",
                 started_at=0, ended_at=len(spans), spans=spans, reward=reward)  # fmt: skip


def test_step_metrics_carry_standard_errors_over_items_not_rollouts():
    # two items, each rolled out twice: the unit is the item (its mean), never the rollout
    traces = [_rollout("a", [1], 0, 1.0), _rollout("a", [1], 0, 0.0),
              _rollout("b", [1], 0, 0.0), _rollout("b", [1], 0, 0.0)]  # fmt: skip
    means = metric_means(traces, {i: {"task_type": "lookup"} for i in "ab"})
    assert means["reward"] == 0.25
    assert means["se/reward"] == pytest.approx(0.25)  # item means 0.5 and 0: sd 0.354 / sqrt(2)
    one_item = metric_means(traces[:2], {"a": {"task_type": "lookup"}})
    assert one_item["se/reward"] is None  # one item: no standard error, rather than a made-up 0


def test_step_metrics_carry_the_tool_use_patterns():
    traces = [_rollout("a", [2, 1], reasoning=4, reward=1.0), _rollout("b", [1], 0, 0.0)]
    unscored = _rollout("c", [3, 3], reasoning=50, reward=0.0).model_copy(update={"reward": None})
    items = {i: {"task_type": "lookup"} for i in "abc"}
    means = metric_means([*traces, unscored], items)
    assert means["turns"] == 2.5  # (3 + 2) / 2: the unscored rollout is left out
    assert means["parallel_turn_share"] == 1 / 3  # one of three tool turns made two calls
    assert means["reasoning_tokens"] == 6.0  # (3 turns x 4 + 0) / 2
    assert means["tool_calls"] == 2.0
