"""GRPO maths and a few real steps against the tool service under uvicorn (tiny model)."""

import pytest
import torch

from rftkit.local.grpo import (
    GRPOConfig,
    GRPOTrainer,
    group_advantages,
    group_varies,
    grpo_loss,
    kl_to_reference,
)
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.tokenizer import render


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
    # A graded config with variance even for an untrained model's text (the real engine runs it).
    grader = {
        "type": "text_similarity",
        "name": "similarity",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "evaluation_metric": "fuzzy_match",
    }
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
    assert [e["data"]["step"] for e in metrics] == [1, 2]
    assert all(e["object"] == "fine_tuning.job.event" for e in events)
    last = metrics[-1]["data"]
    assert last["full_valid_mean_reward"] is not None and last["rollouts"] == 6
    assert set(last["timing"]["step"]) == {"sampling", "training", "eval", "full_iteration"}
    assert trainer.checkpoints[-1]["step_number"] == 2
    assert (tmp_path / "step-2.pt").exists()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "GRPO steps left every weight unchanged"
    reference = trainer.reference.state_dict()
    assert all(torch.equal(reference[k], before[k]) for k in before)  # the base stays frozen
