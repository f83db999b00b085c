"""The Agent RFT wire format: the one place its JSON is declared.

The trainer POSTs each tool call as a Responses-API ``function_call`` carrying the rollout's
``trace_id`` and the dataset line (``item``); the tool endpoint answers a
``function_call_output`` whose ``output`` is a string. An endpoint grader receives
``{sample, item, trace_id}`` and answers ``{"score": float}``. Conversations hold the same
``function_call`` items. On the job side: the function tool the model sees (:class:`FunctionTool`,
one parser and one :class:`ToolSpecError`), the job tool ``{name, server_url, headers}``, the
create request and its ``method.reinforcement``, the job and its checkpoints, all checked against
the ``openai`` SDK's types. The tool service, the rollout engine, the local engine and API, the
graders and the tests all import these models; nobody re-declares the JSON.
Sources: OpenAI build-hours ``20-agent-rft`` and Microsoft's ``Agentic_RFT_PrivatePreview``
samples (see ``docs/hosted-api.md`` §4).

Example — what a tool endpoint receives and answers::

    >>> call = FunctionCall.model_validate({"type": "function_call", "id": "fc_1",
    ...     "call_id": "call_1", "name": "search", "arguments": {"query": "revenue"},
    ...     "trace_id": "trace_abc", "item": {}})
    >>> call.arguments                      # objects are normalised to the JSON string
    '{"query": "revenue"}'
    >>> FunctionCallOutput.answering(call, "3 matches").model_dump()["type"]
    'function_call_output'
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from rftkit._util.jsonsafe import MAX_BYTES, loads
from rftkit.errors import RFTKitError

MAX_PAYLOAD_BYTES = MAX_BYTES
"""Request and response bodies above this are refused by the trainer (413 shown to the model)."""

MASKED_HEADER_VALUE = "**********"
"""How the hosted service echoes a header value in job objects and validated graders."""

TraceId = Annotated[str, Field(min_length=1, max_length=256)]


class _Wire(BaseModel):
    """Unknown keys are kept: the service adds fields without notice (``parallel_tool_calls``)."""

    model_config = ConfigDict(extra="allow")


class FunctionCallItem(_Wire):
    """A ``function_call`` conversation item (Responses API): the model asked for a tool call.

    Rollouts, the local engine and the local API keep conversations as these items' dicts
    (:meth:`as_item`); the arguments are kept as the model wrote them, valid JSON or not. The
    Responses API's ``status`` is kept when given, as any other added key.
    """

    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str

    def as_item(self) -> dict[str, Any]:
        """The conversation item as a dict, unset optional keys left out."""
        return self.model_dump(exclude_none=True)


class FunctionCall(FunctionCallItem):
    """One tool call as the trainer POSTs it to a tool endpoint: the item, the rollout's
    ``trace_id`` and the dataset line."""

    call_id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=128)
    arguments: str = Field(description="JSON object encoded as a string.")
    trace_id: TraceId
    item: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments_as_json_string(cls, value: Any) -> str:
        """Accept an object too (BH20's server does) and normalise it to the JSON string.

        The string is parsed within ``rftkit._util.jsonsafe``'s limits (depth, size; no NaN,
        duplicate keys or lone surrogates), so a model's hostile arguments become a ValueError the
        endpoint answers with a 400 the model can read, never a RecursionError and a 500.
        """
        if isinstance(value, dict):
            try:
                value = json.dumps(value, allow_nan=False)
            except (ValueError, TypeError, RecursionError) as exc:
                raise ValueError(f"cannot be encoded as JSON ({type(exc).__name__})") from None
        if not isinstance(value, str):
            raise ValueError("must be a JSON object or a string holding one")
        try:
            decoded = loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
        except ValueError as exc:
            raise ValueError(f"are not accepted: {exc}") from None
        if not isinstance(decoded, dict):
            raise ValueError(f"must encode a JSON object, got {type(decoded).__name__}")
        return value

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict (validation guarantees they decode to an object)."""
        return json.loads(self.arguments) if self.arguments.strip() else {}


class FunctionCallOutput(_Wire):
    """A tool endpoint's answer; ``output`` is exactly what the model will read."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    id: str | None = None
    output: str

    @classmethod
    def answering(cls, call: FunctionCall, output: str) -> FunctionCallOutput:
        """The reply to ``call`` with the ids echoed back."""
        return cls(call_id=call.call_id, id=call.id, output=output)

    def as_item(self) -> dict[str, Any]:
        """The conversation item as a dict, unset optional keys left out."""
        return self.model_dump(exclude_none=True)


class ToolErrorDetail(BaseModel):
    """Why a call was refused: for the model to act on (4xx) or the trainer to retry (5xx)."""

    code: str
    message: str
    param: str | None = None
    retryable: bool = False


class ToolError(BaseModel):
    """Body of a tool endpoint's error reply. The trainer shows 4xx bodies to the model."""

    error: ToolErrorDetail


class ToolSpecError(ValueError, RFTKitError):
    """A tool spec that cannot be used; the message names the tool (or the spec) and the field."""


class FunctionTool(_Wire):
    """A function tool as the model sees it (a dataset line's ``tools``, ``GET /tools``).

    Chat completions nest it, ``{"type": "function", "function": {"name", ...}}``; the Responses
    API writes the same keys flat beside ``type``. :meth:`parse` reads either, or a bare function.
    A tool without ``parameters`` takes an empty object.
    """

    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @classmethod
    def parse(cls, spec: Any) -> FunctionTool:
        """The function of ``spec``; ToolSpecError saying what is missing or wrong."""
        function = spec.get("function", spec) if isinstance(spec, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ToolSpecError(
                "has no function name (expected {'type': 'function', 'function': "
                "{'name': ..., 'parameters': {...}}})"
            )
        fields = {k: v for k, v in function.items() if k != "type" or v != "function"}
        if not fields.get("parameters"):
            fields.pop("parameters", None)
        elif not isinstance(fields["parameters"], Mapping):
            kind = type(fields["parameters"]).__name__
            raise ToolSpecError(f"tool {name!r}: parameters is {kind}, not a JSON schema")
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ToolSpecError(f"tool {name!r}: {where}: {first['msg']}") from None

    def function(self) -> dict[str, Any]:
        """The function's keys as a dict (unset optional ones left out)."""
        return self.model_dump(exclude_none=True)


class FunctionSpec(BaseModel):
    """The ``function`` part of a chat-completions tool call."""

    name: str
    arguments: str = "{}"


class ToolCall(_Wire):
    """One entry of ``sample.output_tools``: the chat-completions ``message.tool_calls`` shape."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionSpec


class Sample(_Wire):
    """The model's output as graders see it: ``{{sample.*}}`` in templates, ``grade(sample, item)``.

    The documented shape (OpenAI graders guide, "Sample namespace" and "Python graders";
    docs/hosted-api.md §5.1): ``output_text``, ``output_json``, ``output_tools`` (chat-completions
    ``message.tool_calls``), ``choices`` (chat-completions choices) and ``output_audio``
    (``{data, transcript}``). Nothing else is declared; keys a caller adds (Microsoft's endpoint
    samples carry ``output_reasoning_summary``; rftkit's rollout engine adds ``trajectory``, the
    rollout's turns and reasoning tokens) are kept as given.

    Where the documentation is silent, the kit chose:

    - ``output_json`` is the decoded value whenever the text is valid JSON — objects, and also
      arrays, numbers and strings (``graders.run``: "populated if the model sample is a valid JSON
      string"); ``None`` otherwise. ``NaN``/``Infinity`` literals, JSON nested deeper than
      :attr:`MAX_JSON_DEPTH` and numbers of more than 4300 digits are not valid JSON here: the
      text is kept, ``output_json`` is ``None``, and nothing raises.
    - ``output_audio`` is ``None`` for a text-only answer (chat completions' ``message.audio``).
    - each choice is ``{index, finish_reason, message: {role, content, refusal, tool_calls}}``
      with ``tool_calls`` mirroring ``output_tools`` (``None`` when there are none, as the
      ``openai`` SDK dumps a completion) and ``finish_reason`` ``"stop"`` for a final answer,
      ``"tool_calls"`` only when the sample has tool calls and no text (a rollout cut off at
      ``max_episode_steps`` mid-call).
    """

    MAX_JSON_DEPTH: ClassVar[int] = 100

    output_text: str = ""
    output_json: Any = None
    output_tools: list[ToolCall] = Field(default_factory=list)
    choices: list[dict[str, Any]] = Field(default_factory=list)
    output_audio: dict[str, Any] | None = None

    @classmethod
    def from_text(cls, text: str, tools: list[ToolCall] | None = None, **extra: Any) -> Sample:
        """A sample as ``graders.run`` builds it from ``model_sample``; never raises on ``text``.
        ``extra`` keys are kept as given (the rollout engine's ``trajectory``)."""
        tools = list(tools or [])
        message = {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "tool_calls": [tool.model_dump() for tool in tools] or None,
        }
        return cls(
            output_text=text,
            output_json=cls.decode_json(text),
            output_tools=tools,
            choices=[
                {
                    "index": 0,
                    "finish_reason": "tool_calls" if tools and not text else "stop",
                    "message": message,
                }
            ],
            **extra,
        )

    @classmethod
    def decode_json(cls, text: str) -> Any:
        """``text`` decoded as strict JSON, or ``None`` when it is not (or nests too deep)."""
        if not isinstance(text, str):
            return None
        try:  # json's own reading of duplicate keys and surrogates; NaN, depth and size refused
            return loads(
                text,
                max_depth=cls.MAX_JSON_DEPTH,
                allow_duplicate_keys=True,
                allow_lone_surrogates=True,
            )
        except ValueError:  # not JSON, NaN/Infinity, too deep or large, 4300+-digit integers
            return None


class GraderRequest(_Wire):
    """What an endpoint grader receives: the final sample, the dataset line and the rollout id."""

    sample: Sample
    item: dict[str, Any] = Field(default_factory=dict)
    trace_id: TraceId


class GraderResponse(_Wire):
    """What an endpoint grader answers."""

    score: float

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class JobTool(BaseModel):
    """One entry of ``method.reinforcement.tools``: where the trainer sends calls for ``name``.

    ``headers`` usually carry a bearer token, so they are left out of the repr and out of
    validation errors; ``model_dump()`` still returns them for the job request, and
    :meth:`redacted` gives a copy safe to print.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=128)
    server_url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    def redacted(self) -> dict[str, Any]:
        """The config with header values masked, as the service echoes them back."""
        return {**self.model_dump(), "headers": dict.fromkeys(self.headers, MASKED_HEADER_VALUE)}


class ReinforcementMethod(BaseModel):
    """``method.reinforcement`` of a create request: the SDK's ``ReinforcementMethod`` (grader,
    hyperparameters) with the fields the RFT guides add: ``response_format`` and, for Agent RFT,
    job-level ``tools`` and ``max_episode_steps``. Fields are in the order requests are written."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    grader: dict[str, Any]
    response_format: dict[str, Any] | None = None
    tools: list[JobTool] = Field(default_factory=list)
    max_episode_steps: int | None = Field(default=None, ge=1, le=1000)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class Method(BaseModel):
    """``method`` of a create request; ``type`` names the one of the other fields that is set."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: str
    reinforcement: ReinforcementMethod | None = None
    supervised: dict[str, Any] | None = None
    dpo: dict[str, Any] | None = None

    @classmethod
    def reinforcement_body(cls, **fields: Any) -> dict[str, Any]:
        """``{"type": "reinforcement", "reinforcement": {...}}`` with only the given fields."""
        method = cls(type="reinforcement", reinforcement=ReinforcementMethod(**fields))
        return method.model_dump(exclude_unset=True)


class JobCreateRequest(BaseModel):
    """``POST fine_tuning/jobs``: the SDK's ``JobCreateParams`` with the Agent RFT fields in
    ``method``, and Azure's ``trainingType`` (accepted; a local server gives it no meaning)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str
    training_file: str
    validation_file: str | None = None
    method: Method | None = None
    hyperparameters: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    suffix: str | None = Field(default=None, max_length=64)
    trainingType: str | None = None  # noqa: N815 (Azure's name)

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Up to 16 pairs, keys up to 64 characters, values up to 512 (the API's limits)."""
        if value is not None and (
            len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
        ):
            raise ValueError("at most 16 pairs, keys up to 64 characters, values up to 512")
        return value


class Job(_Wire):
    """A ``fine_tuning.job`` (the SDK's ``FineTuningJob``) as the hosted API returns it.

    ``status`` is a string: besides the SDK's values, jobs can be ``pausing``/``paused`` (Azure,
    the local engine). The local API shows its jobs through this model; keys a platform adds
    (``user_provided_suffix``, Azure's ``trainingType``) are kept.
    """

    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    model: str
    created_at: int
    finished_at: int | None = None
    status: str
    fine_tuned_model: str | None = None
    seed: int | None = None
    metadata: dict[str, str] | None = None
    error: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    training_file: str | None = None
    validation_file: str | None = None
    hyperparameters: dict[str, Any] | None = None
    organization_id: str | None = None
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    estimated_finish: int | None = None
    integrations: list[dict[str, Any]] | None = None


class JobCheckpoint(_Wire):
    """A ``fine_tuning.job.checkpoint`` (the SDK's ``FineTuningJobCheckpoint``).

    A backend's own record of a checkpoint is this object with what it knows so far (the local
    engine and TRL fill in neither the job id nor the model name) and its own keys beside
    (``path``: where the weights are); :meth:`record` drops the unknown ones.
    """

    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int | None = None
    fine_tuned_model_checkpoint: str | None = None
    fine_tuning_job_id: str | None = None
    step_number: int
    metrics: dict[str, Any] = Field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The checkpoint as a dict, fields not known left out."""
        return self.model_dump(exclude_none=True)


class Usage(BaseModel):
    """Token counts of one generation; ``reasoning_tokens`` where the API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


class GenerationSpanData(BaseModel):
    """A model turn: its text and the tool calls it asked for."""

    type: Literal["generation"] = "generation"
    model: str | None = None
    output_text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class FunctionSpanData(BaseModel):
    """A tool call over HTTP: what was sent, what came back, and how it went."""

    type: Literal["function"] = "function"
    name: str
    call_id: str | None = None
    input: str
    output: str | None = None
    status_code: int | None = None
    attempts: int = 1
    error: str | None = None


class Span(BaseModel):
    """One timed step of a rollout, like the spans of OpenAI's eval output items."""

    trace_id: TraceId
    span_id: str
    started_at: float
    ended_at: float
    span_data: Annotated[GenerationSpanData | FunctionSpanData, Field(discriminator="type")]

    @model_validator(mode="before")
    @classmethod
    def _accept_openai_casing(cls, data: Any) -> Any:
        """OpenAI's eval items write ``GENERATION``/``FUNCTION``; accept them."""
        if isinstance(data, dict) and isinstance(data.get("span_data"), dict):
            kind = data["span_data"].get("type")
            if isinstance(kind, str) and kind.lower() != kind:
                data = {**data, "span_data": {**data["span_data"], "type": kind.lower()}}
        return data

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at


RolloutStatus = Literal["completed", "max_steps", "discarded", "timeout"]


class Trace(BaseModel):
    """The record of one rollout: spans in order, the graded sample and the reward.

    A ``discarded`` rollout (a tool kept answering 5xx) has no reward: the trainer drops it rather
    than scoring it 0, and so does every summary built on these records.
    """

    object: Literal["trace"] = "trace"
    trace_id: TraceId
    item_id: str | None = None
    repeat: int = 0
    policy: str
    status: RolloutStatus
    started_at: float
    ended_at: float
    spans: list[Span] = Field(default_factory=list)
    sample: Sample | None = None
    reward: float | None = None
    grader_result: dict[str, Any] | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _discarded_has_no_reward(self) -> Trace:
        if self.status == "discarded" and self.reward is not None:
            raise ValueError("a discarded rollout carries no reward")
        return self

    @property
    def function_spans(self) -> list[Span]:
        return [s for s in self.spans if s.span_data.type == "function"]

    @property
    def tool_calls(self) -> int:
        return len(self.function_spans)


def job_event(
    event_id: str, message: str, data: dict[str, Any] | None = None, level: str = "info"
) -> dict[str, Any]:
    """A ``fine_tuning.job.event`` as the hosted API returns it (docs/hosted-api.md §6.3): a
    ``metrics`` event when it carries ``data`` (the RFT metrics layout), else a ``message`` event.
    Every training backend emits these, so ``rftkit.analysis`` reads any of them."""
    return {
        "id": event_id,
        "object": "fine_tuning.job.event",
        "created_at": int(time.time()),
        "level": level,
        "message": message,
        "type": "metrics" if data is not None else "message",
        "data": data or {},
    }
