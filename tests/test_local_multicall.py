"""Several calls per turn and reasoning segments, end to end over real HTTP: the local policy ->
the rollout engine -> the tool service -> the trace -> the grader -> GRPO's loss mask and events.

The model under test is a tiny TinyLM trained for 120 steps on a handful of *scripted* transcripts
(not expert or model outputs): each course question answered by a reasoning segment, two
calculator calls in one turn, a second reasoning segment and the answer "7" (a third of them
"8", so GRPO groups can differ). It emits the new tokens itself; nothing stubs its generation
except in the last test, where a 50-call turn is forced through ``generate`` to test the cap.
The committed base checkpoint is checked to behave exactly as before the markers existed.
"""

import asyncio
import hashlib
import json
import random

import httpx
import openai
import pytest
import torch

from rftkit.analysis.patterns import rollout_patterns
from rftkit.api import serve_api
from rftkit.api.models import ModelRegistry
from rftkit.course.pretrain import PretrainConfig, build_tokenizer, train_cycle
from rftkit.local.batches import length_buckets
from rftkit.local.checkpoint import BASE_CHECKPOINT, BASE_MODEL, load_model
from rftkit.local.grpo import GRPOConfig, GRPOTrainer, grpo_loss
from rftkit.local.model import ModelConfig, TinyLM
from rftkit.local.policy import LocalModelPolicy
from rftkit.local.tokenizer import render
from rftkit.local.turns import MAX_CALLS_PER_TURN
from rftkit.rollouts import run_rollouts
from rftkit.rollouts.engine import lines_by_id

SUMS = ('{"expression": "1 + 2"}', '{"expression": "2 + 2"}')
SEVEN = {
    "type": "string_check",
    "name": "seven",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "7",
}


def scripted(question: str, answer: str) -> list[dict]:
    """A scripted two-call transcript (see the module docstring)."""

    def think(text: str) -> dict:
        return {"type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}

    calls = [
        {"type": "function_call", "call_id": f"c{n}", "name": "calculator", "arguments": sums}
        for n, sums in enumerate(SUMS)
    ]
    outputs = [
        {"type": "function_call_output", "call_id": f"c{n}", "output": value}
        for n, value in enumerate(("3", "4"))
    ]
    return [
        {"role": "user", "content": question},
        think("I add both sums."),
        *calls,
        *outputs,
        think("The answer is 7."),
        {"role": "assistant", "content": answer},
    ]


@pytest.fixture(scope="module")
def marked(scripted_world, tiny_course_task):
    """(model, tokenizer with turn markers, the course task's lines)."""
    _, conversations = scripted_world
    task = tiny_course_task.task
    items = task.items("train") + task.items("validation")
    questions = [item["messages"][-1]["content"] for item in items]
    transcripts = [scripted(q, answer) for q in questions for answer in ("7", "7", "8")]
    tokenizer = build_tokenizer(conversations + transcripts, set(), turn_markers=True)
    torch.manual_seed(0)
    config = ModelConfig(len(tokenizer), block_size=256, n_layer=2, n_head=2, n_embd=32)
    model = TinyLM(config)
    rows = [render(tokenizer, t) for t in transcripts]
    settings = PretrainConfig(lr=1e-2, warmup=5)
    train_cycle(model, length_buckets(rows, 4096), random.Random(0), settings, 120, "t", False)
    return model.eval(), tokenizer, items


def reasoning_per_turn(tokenizer, ids: list[int], trained: list[bool]) -> list[int]:
    """Each turn's reasoning tokens, counted on the record: a turn is a run of sampled tokens, and
    its segment runs from a leading ``<think>`` to ``<eothink>`` (or to the turn's end)."""
    turns, current = [], []
    for token_id, sampled in zip([*ids, -1], [*trained, False], strict=True):
        if sampled:
            current.append(token_id)
        elif current:
            turns.append(current)
            current = []
    counts = []
    for turn in turns:
        thinks = turn[0] == tokenizer.id("<think>")
        end = turn.index(tokenizer.id("<eothink>")) + 1 if tokenizer.id("<eothink>") in turn else 0
        counts.append((end or len(turn)) if thinks else 0)
    return counts


@pytest.fixture(scope="module")
def greedy_rollouts(marked, tiny_course_task):
    model, tokenizer, items = marked
    policy = LocalModelPolicy(model, tokenizer, temperature=0.0)
    tools = tiny_course_task.task.job_tools(tiny_course_task.env)
    traces = asyncio.run(
        run_rollouts(items, policy, tools=tools, grader=SEVEN, max_episode_steps=4, progress=False)
    )
    token = tiny_course_task.env["RFTKIT_TOOL_TOKEN"]
    logs = {
        t.trace_id: httpx.get(
            f"{tiny_course_task.base_url}/traces/{t.trace_id}",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        for t in traces
    }
    return traces, policy, logs


def test_one_turn_runs_two_calls_that_reach_the_tool_service_and_get_graded(
    greedy_rollouts, marked
):
    traces, _, logs = greedy_rollouts
    _, _, items = marked
    for trace in traces:
        assert trace.status == "completed" and trace.reward == 1.0, trace.error
        turns = [s.span_data for s in trace.spans if s.span_data.type == "generation"]
        assert [len(t.tool_calls) for t in turns] == [2, 0]
        assert tuple(c.function.arguments for c in turns[0].tool_calls) == SUMS
        ran = {s.span_data.call_id: s.span_data.output for s in trace.spans[1:-1]}
        assert [ran[c.id] for c in turns[0].tool_calls] == ["3", "4"]
        calls = logs[trace.trace_id]["calls"]
        assert [(c["tool"], c["status"]) for c in calls] == [("calculator", 200)] * 2
        assert {c["call_id"] for c in calls} == {c.id for c in turns[0].tool_calls}
    patterns = rollout_patterns(traces, lines_by_id(items))
    assert list(patterns["parallel_turns"]) == [1] * len(traces)
    assert list(patterns["tool_turns"]) == [1] * len(traces)


def test_reasoning_tokens_are_the_segments_length(greedy_rollouts, marked):
    traces, policy, _ = greedy_rollouts
    _, tokenizer, items = marked
    patterns = rollout_patterns(traces, lines_by_id(items)).set_index("trace_id")
    for trace in traces:
        row = policy.record(trace.trace_id).rendered
        segments = reasoning_per_turn(tokenizer, row.ids, row.trained)
        turns = [s.span_data for s in trace.spans if s.span_data.type == "generation"]
        assert [t.usage.reasoning_tokens for t in turns] == segments and min(segments) > 2
        assert patterns.loc[trace.trace_id, "reasoning_tokens"] == sum(segments)
        # the sample the grader saw carries the same counts (what latency graders read)
        trajectory = {"turns": 2, "reasoning_tokens": sum(segments), "parallel_turns": 1}
        assert trace.sample.model_extra["trajectory"] == trajectory
        assert all(t.usage.output_tokens > t.usage.reasoning_tokens for t in turns)


def test_grpo_trains_every_sampled_token_and_no_output_of_either_call(greedy_rollouts, marked):
    traces, policy, _ = greedy_rollouts
    model, tokenizer, _ = marked
    trace = traces[0]
    row = policy.record(trace.trace_id).rendered
    words = [tokenizer.vocab[i] for i in row.ids]
    turns = [s.span_data for s in trace.spans if s.span_data.type == "generation"]
    sampled = sum(t.usage.output_tokens for t in turns)
    assert sum(row.trained) == sampled  # every sampled token, and nothing else
    outputs = [n for n, w in enumerate(words) if w == "<out>"]
    ends = [n for n, w in enumerate(words) if w == "<eoo>"]
    assert len(outputs) == 2 and not any(row.trained[outputs[0] : ends[-1] + 1])
    reference = TinyLM(model.config)
    reference.load_state_dict(model.state_dict())
    captured = []
    hook = model.head.register_forward_hook(lambda _m, _i, logits: captured.append(logits))
    try:
        loss, info = grpo_loss(model, reference, [row], torch.tensor([1.0]), 0.1, 1.0)
        captured[0].retain_grad()
        loss.backward()
    finally:
        hook.remove()
        model.zero_grad()
    per_position = captured[0].grad[0].abs().sum(-1)  # position t predicts token t + 1
    predicts_trained = torch.tensor(row.trained[1:])
    assert info["tokens"] == sampled
    assert per_position[~predicts_trained].max() == 0 and (per_position[predicts_trained] > 0).all()


def test_grpo_step_events_report_reasoning_tokens_per_rollout(marked, tiny_course_task, tmp_path):
    model, tokenizer, _ = marked
    task, env = tiny_course_task.task, tiny_course_task.env
    config = GRPOConfig(steps=1, tasks_per_step=3, group_size=4, max_episode_steps=4,
                        triage_repeats=4, eval_interval=1, lr=1e-4)  # fmt: skip
    trainer = GRPOTrainer(
        config,
        TinyLM(model.config),
        tokenizer,
        tmp_path,
        train_items=task.items("train"),
        valid_items=task.items("validation"),
        tools=task.job_tools(env),
        grader=SEVEN,
    )
    trainer.model.load_state_dict(model.state_dict())
    trainer.reference.load_state_dict(model.state_dict())
    popped = []
    pop = trainer.policy.pop_record
    trainer.policy.pop_record = lambda trace_id: popped.append(pop(trace_id)) or popped[-1]
    trainer.run(progress=False)
    data = trainer.events[-1]["data"]
    assert data["rollouts"] == len(popped) > 0  # every rollout was scored and trained on
    counted = [
        sum(reasoning_per_turn(tokenizer, r.rendered.ids, r.rendered.trained)) for r in popped
    ]
    assert data["reasoning_tokens_per_rollout"] == pytest.approx(sum(counted) / len(counted))
    assert data["reasoning_tokens_per_rollout"] > 0 and data["parallel_turn_share"] > 0


def test_a_conversation_with_earlier_calls_is_seen_as_the_transcripts_render_it(marked):
    """Calls the policy did not make (a client's conversation sent to the local API) get the
    same ``<eocalls>`` a training transcript has."""
    model, tokenizer, _ = marked
    conversation = scripted("What was the revenue of Norvale in 2025-Q1?", "7")[:6]
    policy = LocalModelPolicy(model, tokenizer, temperature=0.0)
    asyncio.run(policy.next_turn(conversation, [], trace_id="trace_client"))
    seen = render(tokenizer, conversation).ids
    assert tokenizer.id("<eocalls>") in seen
    assert policy.record("trace_client").rendered.ids[: len(seen)] == seen


class FiftyCalls(TinyLM):
    """A scripted ``generate`` (the model is not under test here): a turn of 50 calls, whatever
    the token limit (the real ``generate`` stops at ``max_new_tokens``)."""

    turn: list[int] = []

    def generate(self, prompts, **_):
        return [self.turn for _ in prompts]


def test_a_fifty_call_turn_runs_only_the_capped_calls(marked, tiny_course_task):
    model, tokenizer, items = marked
    call = render(tokenizer, scripted("q", "7"))
    words = [tokenizer.vocab[i] for i in call.ids]
    one = call.ids[words.index("<call>") : words.index("<eoc>") + 1]
    stub = FiftyCalls(model.config)
    stub.turn = one * 50 + [tokenizer.id("<eocalls>")]
    policy = LocalModelPolicy(stub, tokenizer)
    tools = tiny_course_task.task.job_tools(tiny_course_task.env)
    traces = asyncio.run(
        run_rollouts(
            items[:1], policy, tools=tools, grader=SEVEN, max_episode_steps=2, progress=False
        )
    )
    (trace,) = traces
    first = trace.spans[0].span_data
    assert len(first.tool_calls) == MAX_CALLS_PER_TURN
    assert first.usage.output_tokens == len(stub.turn)  # what was sampled, all of it
    assert len([s for s in trace.spans if s.span_data.type == "function"]) == MAX_CALLS_PER_TURN
    record = policy.record(trace.trace_id)
    assert sum(record.rendered.trained) == len(stub.turn)  # the trainer sees all 50
    # the 8 outputs filled the context: the next turn is an empty answer, and the rollout ends
    assert record.truncated and trace.status == "completed" and trace.sample.output_text == ""


def test_the_committed_checkpoint_has_the_markers_and_samples_as_pinned(scripted_world):
    """The base model's vocabulary (the turn markers appended last) and its first turns, pinned
    when the checkpoint was made: the same ids and the same samples for the same seed."""
    model, tokenizer = load_model(BASE_CHECKPOINT)
    assert tokenizer.turn_markers and tokenizer.vocab[-3:] == ["<think>", "<eothink>", "<eocalls>"]
    vocab = hashlib.sha256(json.dumps(tokenizer.vocab).encode()).hexdigest()
    assert (len(tokenizer), vocab[:16]) == (223, "500c18260f8772ba")
    _, conversations = scripted_world
    policy = LocalModelPolicy(model, tokenizer, temperature=1.0, seed=0)

    async def first_turns():
        return [
            await policy.next_turn([conversations[n][0]], [], trace_id=f"trace_{n}")
            for n in range(3)
        ]

    turns = asyncio.run(first_turns())
    assert [len(t.tool_calls) for t in turns] == [1, 1, 1]
    assert [t.usage.reasoning_tokens for t in turns] == [28, 0, 0]  # it reasons, sometimes
    sampled = [policy.record(f"trace_{n}").rendered.ids for n in range(3)]
    digest = hashlib.sha256(json.dumps(sampled).encode()).hexdigest()
    assert digest[:16] == "832b9e6db3aaa4e1"


def test_the_local_api_reports_a_turns_reasoning_tokens(marked, tmp_path, monkeypatch):
    """Served through the local fine-tuning API, a marked model's turn reports its reasoning
    tokens where hosted APIs do: ``output_tokens_details`` / ``completion_tokens_details``."""
    model, tokenizer, items = marked
    checkpoint = tmp_path / "marked.pt"
    model.save(checkpoint, tokenizer=tokenizer.state_dict())
    monkeypatch.setattr(ModelRegistry, "checkpoint", lambda self, name: checkpoint)
    question = items[0]["messages"][-1]["content"]
    expected = asyncio.run(
        LocalModelPolicy(model, tokenizer, temperature=0.0).next_turn(
            [{"role": "user", "content": question}], [], trace_id="trace_expected"
        )
    ).usage.reasoning_tokens
    assert expected > 0  # the scripted transcripts open every turn with a reasoning segment
    with serve_api(tmp_path / "api") as api:
        client = openai.OpenAI(base_url=api.base_url, api_key=api.api_key, max_retries=0)
        response = client.responses.create(model=BASE_MODEL, input=question, temperature=0)
        chat = client.chat.completions.create(
            model=BASE_MODEL, messages=[{"role": "user", "content": question}], temperature=0
        )
    assert response.usage.output_tokens_details.reasoning_tokens == expected
    assert chat.usage.completion_tokens_details.reasoning_tokens == expected
    assert [o.type for o in response.output] == ["function_call", "function_call"]
