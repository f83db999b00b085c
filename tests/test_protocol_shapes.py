"""Every wire shape is declared once in rftkit.protocol and matches the openai SDK's types."""

import json

import pytest
from openai.types.fine_tuning import FineTuningJob, ReinforcementMethod
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from openai.types.responses import ResponseFunctionToolCall

from rftkit.data.toolspecs import ToolSpecsError, tool_names
from rftkit.endpoints import SpecError
from rftkit.endpoints.examples import spec_name_and_schema
from rftkit.protocol import (
    FunctionCall,
    FunctionCallItem,
    FunctionCallOutput,
    FunctionTool,
    Job,
    JobCheckpoint,
    JobCreateRequest,
    JobTool,
    Method,
    ToolSpecError,
)
from rftkit.task import RFTTask, TaskTool
from rftkit.trl.toolmethods import ToolSpecError as TRLToolSpecError
from rftkit.trl.toolmethods import spec_function

GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip
PARAMETERS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def test_a_task_tool_is_the_job_tool_with_references_shown_and_values_hidden():
    stored = TaskTool(name="search", server_url="https://t.example/call",
                      headers={"Authorization": "Bearer ${TOK}"})  # fmt: skip
    resolved = stored.resolve({"TOK": "s3cret-token"})
    assert isinstance(stored, JobTool) and type(resolved) is JobTool
    assert "${TOK}" in repr(stored) and "s3cret-token" not in repr(resolved)
    assert resolved.model_dump()["headers"] == {"Authorization": "Bearer s3cret-token"}
    with pytest.raises(ValueError, match="extra"):
        JobTool.model_validate({"name": "s", "server_url": "https://t", "type": "function"})


def test_the_create_request_method_reads_as_the_sdks_and_round_trips(tmp_path):
    (tmp_path / "t.jsonl").write_text(json.dumps({"messages": [], "answer": "4"}) + "\n")
    task = RFTTask(name="t", training_file=tmp_path / "t.jsonl", grader=GRADER,
                   tools=[TaskTool(name="search", server_url="https://t.example/call")],
                   hyperparameters={"n_epochs": 2})  # fmt: skip
    method = task.reinforcement_method({})
    assert list(method["reinforcement"]) == ["grader", "tools", "max_episode_steps",
                                             "hyperparameters"]  # fmt: skip
    sdk = ReinforcementMethod.model_validate(method["reinforcement"])
    assert sdk.grader.type == "string_check" and sdk.hyperparameters.n_epochs == 2
    request = JobCreateRequest(model="o4-mini", training_file="file-1", method=method)
    assert request.method.reinforcement.tools[0].name == "search"
    assert request.model_dump(exclude_unset=True)["method"] == method
    assert Method.reinforcement_body(grader=GRADER) == {
        "type": "reinforcement", "reinforcement": {"grader": GRADER}}  # fmt: skip


def test_a_checkpoint_record_and_the_api_object_are_the_sdks_checkpoint():
    metrics = {"valid_reward_mean": 0.5, "step": 2}
    record = JobCheckpoint(id="c-2", created_at=1, step_number=2, metrics=metrics, path="/x/2.pt")
    assert record.record()["path"] == "/x/2.pt" and "fine_tuning_job_id" not in record.record()
    shown = JobCheckpoint(**{**record.record(), "fine_tuned_model_checkpoint": "m:ckpt-step-2",
                             "fine_tuning_job_id": "ftjob-1"})  # fmt: skip
    sdk = FineTuningJobCheckpoint.model_validate(shown.model_dump())
    assert sdk.step_number == 2 and sdk.object == "fine_tuning.job.checkpoint"
    assert sdk.metrics.step == 2


def test_conversation_items_are_the_responses_api_items():
    call = FunctionCallItem(call_id="call_1", name="search", arguments='{"q": "x"}')
    assert call.as_item() == {"type": "function_call", "call_id": "call_1", "name": "search",
                              "arguments": '{"q": "x"}'}  # fmt: skip
    shown = FunctionCallItem(id="fc_1", status="completed", **call.as_item()).as_item()
    assert ResponseFunctionToolCall.model_validate(shown).status == "completed"
    assert list(shown) == ["type", "id", "call_id", "name", "arguments", "status"]
    posted = FunctionCall(call_id="call_1", name="search", arguments={"q": "x"}, trace_id="t")
    assert isinstance(posted, FunctionCallItem) and "status" not in posted.model_dump()
    answer = FunctionCallOutput(call_id="call_1", output="3 matches").as_item()
    assert answer == {"type": "function_call_output", "call_id": "call_1", "output": "3 matches"}


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "function", "function": {"name": "search", "parameters": PARAMETERS}},
        {"type": "function", "name": "search", "parameters": PARAMETERS, "strict": True},
        {"name": "search", "parameters": PARAMETERS},
    ],
)
def test_one_parser_reads_chat_responses_and_bare_function_specs(spec):
    function = FunctionTool.parse(spec)
    assert function.name == "search" and function.parameters == PARAMETERS
    assert spec_name_and_schema(spec) == ("search", PARAMETERS)
    assert spec_function(spec)["name"] == "search" and tool_names([spec]) == ["search"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "function", "function": {"parameters": {}}}, "has no function name"),
        ("search", "has no function name"),
        ({"name": "s", "parameters": ["q"]}, "tool 's': parameters is list, not a JSON schema"),
        ({"name": "s", "description": 3}, "tool 's': description: Input should be a valid string"),
    ],
)
def test_one_error_class_for_a_bad_spec_wherever_it_is_read(spec, message):
    assert SpecError is ToolSpecError is TRLToolSpecError is ToolSpecsError
    readers = (FunctionTool.parse, spec_name_and_schema, spec_function, lambda s: tool_names([s]))
    for read in readers:
        with pytest.raises(ToolSpecError, match=message):
            read(spec)
    assert FunctionTool.parse({"name": "s"}).parameters == {"type": "object", "properties": {}}


def test_the_job_object_reads_as_the_sdks_job_with_added_keys_kept():
    job = Job(id="ftjob-1", model="m", created_at=1, status="running", seed=3,
              training_file="file-1", method={"type": "reinforcement"},
              hyperparameters={}, organization_id="org", user_provided_suffix="s")  # fmt: skip
    shown = job.model_dump()
    sdk = FineTuningJob.model_validate(shown)
    assert sdk.object == "fine_tuning.job" and sdk.method.type == "reinforcement"
    assert shown["user_provided_suffix"] == "s" and shown["result_files"] == []


def test_a_chat_tool_call_becomes_the_item_or_a_400_naming_it():
    from rftkit.api.errors import APIError
    from rftkit.api.responses import chat_items

    call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
    items = chat_items([{"role": "assistant", "content": None, "tool_calls": [call]}])
    assert items == [FunctionCallItem(call_id="call_1", name="search", arguments="{}").as_item()]
    no_id = {"function": {"name": "x"}}
    asked = {"role": "assistant", "tool_calls": [call, no_id]}
    messages = [{"role": "user", "content": "hi"}, asked]
    with pytest.raises(APIError) as refused:
        chat_items(messages)
    assert refused.value.status == 400 and refused.value.param == "messages.[1].tool_calls.[1]"
