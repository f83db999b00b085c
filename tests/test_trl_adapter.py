"""The TRL environment adapter on its own: generated tool methods, wire-format calls against the
real tool service on loopback, 4xx shown, 5xx retried then discarded, timeouts; the
hyperparameter table."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.utils import get_json_schema
from trl import GRPOConfig

from rftkit.course.task import CourseTaskSize, serve_course_task
from rftkit.serving import serve_in_background
from rftkit.task import TaskTool
from rftkit.trl.environment import DISCARDED_OUTPUT, ITEM_COLUMN, rollout_of, task_environment
from rftkit.trl.hyperparameters import grpo_settings
from rftkit.trl.toolmethods import ToolSpecError, expressible, task_tool_specs, tool_method
from tools_service.app import TOKEN_ENV

TINY = CourseTaskSize(train_worlds=1, train_per_world=1, valid_worlds=1, valid_per_world=1)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    with serve_course_task(tmp_path_factory.mktemp("course"), TINY) as served:
        yield served


def started(environment_class, item):
    environment = environment_class()
    environment.reset(prompt=[], **{ITEM_COLUMN: json.dumps(item)})
    return environment


def test_generated_methods_give_trl_the_task_specs(course):
    environment = task_environment(course.task, course.env)
    specs = task_tool_specs(course.task.items("train"))
    assert len(specs) == 4
    for spec in specs:
        method = getattr(environment(), spec["function"]["name"])
        derived = get_json_schema(method)
        derived["function"].pop("return", None)
        assert derived == expressible(spec)
        assert derived["function"]["description"] == spec["function"]["description"]


def test_specs_the_extractor_cannot_express_are_refused_by_name():
    nested = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look up an order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order": {
                        "type": "object",
                        "description": "The order.",
                        "properties": {"id": {"type": "string"}},
                    }
                },
            },
        },
    }
    with pytest.raises(ToolSpecError, match="'lookup', parameter 'order'"):
        tool_method(nested, lambda *_: "")
    minimum = json.loads(json.dumps(nested))
    minimum["function"]["parameters"]["properties"] = {
        "n": {"type": "integer", "description": "How many.", "minimum": 1}
    }
    with pytest.raises(ToolSpecError, match="'lookup'"):
        tool_method(minimum, lambda *_: "")
    reserved = {"type": "function", "function": {"name": "reset", "description": "x"}}
    with pytest.raises(ToolSpecError, match="reserved"):
        tool_method(reserved, lambda *_: "")
    undocumented = {"type": "function", "function": {"name": "ping", "description": ""}}
    with pytest.raises(ToolSpecError, match="needs a description"):
        tool_method(undocumented, lambda *_: "")


@pytest.mark.parametrize(
    "description",
    ["Pick one (choices: nope)", 'Pick one (choices: ["a"])', "Args:\n    x: y", "Spaced. "],
)
def test_descriptions_the_docstring_parser_would_change_are_refused(description):
    spec = {
        "type": "function",
        "function": {
            "name": "pick",
            "description": "Pick.",
            "parameters": {
                "type": "object",
                "properties": {"x": {"type": "string", "description": description}},
            },
        },
    }
    with pytest.raises(ToolSpecError, match="'pick'"):
        tool_method(spec, lambda *_: "")


def test_enums_arrays_and_optional_arguments_round_trip():
    spec = {
        "type": "function",
        "function": {
            "name": "find",
            "description": "Find things.",
            "parameters": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["a", "b"], "description": "Which kind."},
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."},
                    "limit": {"type": "integer", "description": "At most.", "default": 3},
                    "exact": {"type": "boolean", "description": "Exact match."},
                },
                "required": ["kind"],
            },
        },
    }
    seen = []
    method = tool_method(spec, lambda self, name, arguments: seen.append((name, arguments)))
    assert method(None, kind="a") is None
    assert seen == [("find", {"kind": "a"})]  # the signature's defaults are never sent


def test_a_call_reaches_the_real_service_in_the_wire_format(course):
    environment_class = task_environment(course.task, course.env)
    item = course.task.items("train")[0]
    environment = started(environment_class, item)
    output = environment.search(query="revenue", top_k=2)
    rollout = rollout_of(environment)
    assert rollout.item == item and rollout.trace_id.startswith("trace_")
    assert [c.status_code for c in rollout.calls] == [200]
    assert output.count("\n") >= 1  # two hits
    log = httpx.get(
        f"{course.base_url}/traces/{rollout.trace_id}",
        headers={"Authorization": f"Bearer {course.env[TOKEN_ENV]}"},
    ).json()
    assert [(c["tool"], c["call_id"], c["status"]) for c in log["calls"]] == [
        ("search", rollout.tool_calls[0].id, 200)
    ]
    again = started(environment_class, item)  # a pooled instance reset: a fresh trace id
    assert rollout_of(again).trace_id != rollout.trace_id


def test_a_4xx_body_is_what_the_model_reads(course):
    environment = started(task_environment(course.task, course.env), course.task.items("train")[0])
    output = environment.search(query="revenue", bogus=1)  # additionalProperties: false
    rollout = rollout_of(environment)
    assert 400 <= rollout.calls[0].status_code < 500 and rollout.discarded is None
    assert "bogus" in output and json.loads(output)["error"]


@pytest.fixture
def unavailable():
    """A tool endpoint that answers 503 to everything, counting requests."""
    hits = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        hits.append(scope["path"])
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"down"})

    with serve_in_background(app) as url:
        yield url, hits


def test_5xx_is_retried_three_times_then_the_rollout_is_discarded(course, unavailable):
    url, hits = unavailable
    task = course.task.model_copy(deep=True)
    task.tools = [TaskTool(name=t.name, server_url=f"{url}/call") for t in task.tools]
    environment_class = task_environment(task, {}, retry_backoff=0.01)
    environment = started(environment_class, task.items("train")[0])
    first = environment.search(query="revenue")
    second = environment.read_file(path="reports/x.md")
    rollout = rollout_of(environment)
    assert len(hits) == 4  # 1 + 3 retries, and the second call never left the process
    assert rollout.discarded == "search: HTTP 503 after 3 retries"
    assert first == second == DISCARDED_OUTPUT.format(reason=rollout.discarded)
    assert len(rollout.tool_calls) == 2  # both calls stay in the sample


def test_a_rollout_past_its_time_limit_is_discarded_without_a_call(course, unavailable):
    url, hits = unavailable
    environment_class = task_environment(course.task, course.env, rollout_timeout=0.0)
    environment = started(environment_class, course.task.items("train")[0])
    assert environment.search(query="x").startswith("rollout discarded")
    assert "exceeded" in rollout_of(environment).discarded


def test_reset_needs_the_item_column(course):
    environment = task_environment(course.task, course.env)()
    with pytest.raises(ValueError, match=ITEM_COLUMN):
        environment.reset(prompt=[{"role": "user", "content": "hi"}])


def test_hyperparameter_table(course, tmp_path):
    task = course.task
    settings, notes = grpo_settings(task)
    assert settings["num_generations"] == 8  # compute_multiplier 1
    assert settings["per_device_train_batch_size"] == 8 * 8  # batch_size 8 lines x the group
    assert settings["max_tool_calling_iterations"] == task.max_episode_steps - 1
    assert settings["eval_steps"] == settings["save_steps"] == 8
    assert settings["learning_rate"] == pytest.approx(1e-6)
    assert notes == []
    task = task.model_copy(deep=True)
    task.hyperparameters = {"compute_multiplier": 0.1, "reasoning_effort": "high", "batch_size": 3}
    settings, notes = grpo_settings(task, {"learning_rate": 5e-6})
    assert settings["num_generations"] == 2 and settings["per_device_train_batch_size"] == 6
    assert settings["learning_rate"] == 5e-6 and "reasoning_effort=high" in notes[0]
    GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, **settings)  # TRL accepts it


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
_schemas = st.recursive(
    st.dictionaries(
        st.sampled_from(["type", "description", "enum", "items", "default", "minimum"]),
        st.one_of(
            st.sampled_from(["string", "integer", "number", "boolean", "array", "object", "x"]),
            _json_scalars,
            st.lists(_json_scalars, max_size=3),
        ),
        max_size=4,
    ),
    lambda inner: st.dictionaries(
        st.sampled_from(["items", "properties", "anyOf"]), inner, max_size=2
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(max_size=12),
    description=st.one_of(st.none(), st.text(max_size=20)),
    properties=st.dictionaries(st.text(max_size=6), _schemas, max_size=3),
    required=st.lists(st.text(max_size=6), max_size=2),
)
def test_any_spec_gives_a_faithful_method_or_a_tool_spec_error(
    name, description, properties, required
):
    """Specs come from users' files: the generator either reproduces one exactly or names why
    not; it never fails another way."""
    spec = {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }
    try:
        method = tool_method(spec, lambda self, tool, arguments: tool)
    except ToolSpecError:
        return
    derived = get_json_schema(method)
    derived["function"].pop("return", None)
    assert derived == expressible(spec)
