"""The task: the one thing every training backend takes and every check reads.

A team's Agent RFT work is one :class:`RFTTask`: the training and validation files (RFT JSONL), the
grader config, the job-level tools (``{name, server_url, headers}``), ``max_episode_steps``, an
optional ``response_format``, the base model and the hyperparameters **in the hosted API's
names** (docs/hosted-api.md §2.3), ``suffix`` and ``seed``.

``max_episode_steps`` belongs to Agent RFT: the create request carries it only when the task has
job-level tools (it is in neither the SDK's ``ReinforcementMethod`` nor Azure's v1 schema).
``response_format`` is the structured-output format the RFT guides document for
``method.reinforcement``: ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``
(OpenAI's chat-completions form; Azure's page shows the flat form with ``name``/``schema`` beside
``type``, also accepted); the platform then fills ``sample.output_json`` for the grader.

A task lives in one small JSON file beside the data (``task.json``), so the CLI, the notebooks
and an ``rftkit new`` project share it.

Secrets never go in the file. A header value is a template that names environment variables,
``"Bearer ${RFTKIT_TOOL_TOKEN}"`` (the dialect of :mod:`rftkit.secrets`: a bare ``$NAME`` is
refused with the fix); :meth:`RFTTask.job_tools` resolves them when a request is actually sent, and
a missing variable is named in the error (its value never is). Headers whose names look secret
(``Authorization``, ``*key*``, ``*token*``, ``*secret*``, ``Cookie``) must use a reference, so a
pasted token cannot be saved by accident. The same applies to the ``headers`` of an ``endpoint``
grader.

``probes`` are example calls that must succeed against the task's tools, stored so every check
can use them (preflight's tools row, ``rftkit jobs preflight/launch``, readiness and the red
team) instead of arguments made up from the schema, which real ID or e-mail checks reject. Each
probe is a *scenario*: an ordered list of calls ``[{"name", "arguments"}]`` replayed under one
trace id, as one rollout makes them, so a stateful tool (a refund that needs the order looked up
earlier in the same rollout) is probed after the calls it needs. A one-call scenario probes a
stateless tool. They are made from the reference solver's calls or a baseline's successful calls
(``rftkit.rollouts.probes``), or written by hand.

:meth:`RFTTask.content_hash` covers the data bytes, grader, tools (as written: references, never
their values), ``max_episode_steps``, ``response_format`` (when set), model, hyperparameters,
suffix and seed; a backend puts it in
the job's metadata so launching the same task twice finds the first job. ``probes`` are left out:
they are never sent to the platform, so adding or changing them does not make a new job.

Example::

    task = RFTTask(
        name="orders",
        training_file="data/train.jsonl",
        validation_file="data/valid.jsonl",
        grader=my_grader,
        tools=[TaskTool(name="lookup_order", server_url="https://tools.example/call",
                        headers={"Authorization": "Bearer ${ORDERS_TOOL_TOKEN}"})],
        hyperparameters={"n_epochs": 2, "batch_size": 8},
    )
    task.save("task.json")               # paths are stored relative to the file
    task = RFTTask.load("task.json")
    task.job_tools()                     # JobTool list with the token filled in from the env
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rftkit.data.jsonl import load_jsonl
from rftkit.protocol import JobTool, Method
from rftkit.secrets import (
    MissingSecretError,
    check_stored_headers,
    header_dicts,
    map_headers,
    mask_headers,
    resolve,
    resolve_headers,
)

TASK_FILE = "task.json"
DEFAULT_MODEL = "o4-mini-2025-04-16"
HYPERPARAMETERS = (
    "n_epochs",
    "batch_size",
    "compute_multiplier",
    "eval_interval",
    "eval_samples",
    "learning_rate_multiplier",
    "reasoning_effort",
)
"""``method.reinforcement.hyperparameters`` (docs/hosted-api.md §2.3); each may be auto."""
REASONING_EFFORTS = ("default", "low", "medium", "high")

TaskSecretError = MissingSecretError
"""A header references an environment variable that is not set (:mod:`rftkit.secrets`)."""


class TaskTool(JobTool):
    """A :class:`~rftkit.protocol.JobTool` as a task file stores it: header values are
    references (``${NAME}``), so unlike a resolved tool's they are shown in the repr."""

    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_literal_secrets(self) -> TaskTool:
        check_stored_headers(self.headers, f"tools[{self.name}].headers")
        return self

    def resolve(self, env: Mapping[str, str] | None = None) -> JobTool:
        """The :class:`JobTool` a request carries, its header values filled in from ``env``."""
        env = os.environ if env is None else env
        headers = resolve_headers(self.headers, env, f"tools[{self.name}].headers")
        return JobTool(name=self.name, server_url=self.server_url, headers=headers)


class ProbeCall(BaseModel):
    """One call of a stored probe: a tool's name and arguments that must succeed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any] = Field(default_factory=dict)


def parse_scenario(value: Any, where: str = "probe") -> list[ProbeCall]:
    """A scenario from JSON-like data (``[{"name", "arguments"}, ...]``); ValueError naming
    ``where`` and the call at fault otherwise."""
    if not isinstance(value, list) or not value:
        raise ValueError(f'{where}: expected a non-empty list of {{"name", "arguments"}} calls')
    calls = []
    for index, call in enumerate(value):
        if isinstance(call, ProbeCall):
            calls.append(call)
            continue
        try:
            calls.append(ProbeCall.model_validate(call))
        except ValueError as exc:
            first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
            field_name = ".".join(map(str, first["loc"])) or "the call"
            raise ValueError(f"{where}, call {index}: {field_name}: {first['msg']}") from None
    return calls


class RFTTask(BaseModel):
    """A team's Agent RFT task; see the module docstring. Data paths are absolute in memory."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=128)
    training_file: Path
    validation_file: Path | None = None
    grader: dict[str, Any]
    tools: list[TaskTool] = Field(default_factory=list)
    max_episode_steps: int | None = Field(default=10, ge=1, le=1000)
    model: str = DEFAULT_MODEL
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    suffix: str | None = Field(default=None, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    response_format: dict[str, Any] | None = None
    """Structured output the trained model must follow (see the module docstring)."""
    platform: Literal["openai", "azure"] | None = None
    """The validation profile: platform-specific dataset rules apply as errors only when named."""
    probes: list[list[ProbeCall]] = Field(default_factory=list)
    """Example calls that must succeed, each a scenario replayed under one trace id (see the
    module docstring); not part of :meth:`content_hash`."""

    _root: Path = PrivateAttr(default_factory=Path.cwd)

    # -- validation -------------------------------------------------------------------------
    @field_validator("training_file", "validation_file")
    @classmethod
    def _absolute(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """One rule for data paths: absolute in memory, whatever the caller passed.

        A relative path is read against ``context={"root": folder}`` when validation is given one
        (:meth:`load` passes the task file's folder, :meth:`in_folder` the caller's), else against
        the working directory at the moment it is set; symlinks and ``..`` are resolved, so a later
        change of working directory or a save elsewhere cannot change which file is meant.
        """
        if value is None:
            return None
        root = (info.context or {}).get("root")
        base = Path.cwd() if root is None else Path(root)
        return (base / Path(value).expanduser()).resolve()

    @field_validator("hyperparameters")
    @classmethod
    def _hosted_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(HYPERPARAMETERS))
        if unknown:
            raise ValueError(
                f"unknown {', '.join(unknown)}; the hosted API's names are "
                f"{', '.join(HYPERPARAMETERS)} (backend-only settings go to the backend)"
            )
        for key, setting in value.items():
            if key == "reasoning_effort":
                if setting not in REASONING_EFFORTS:
                    raise ValueError(f"reasoning_effort must be one of {REASONING_EFFORTS}")
            elif setting != "auto" and (
                isinstance(setting, bool) or not isinstance(setting, int | float) or setting <= 0
            ):
                raise ValueError(f"{key} must be 'auto' or a positive number, not {setting!r}")
        return value

    @field_validator("response_format")
    @classmethod
    def _json_schema_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_response_format(value)
        return value

    @field_validator("grader")
    @classmethod
    def _grader_headers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, headers in header_dicts(value, "grader"):
            check_stored_headers(headers, path)
        return value

    @field_validator("probes", mode="before")
    @classmethod
    def _scenarios(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("probes must be a list of scenarios (lists of calls)")
        return [parse_scenario(s, f"probes[{i}]") for i, s in enumerate(value)]

    @model_validator(mode="after")
    def _unique_tools(self) -> RFTTask:
        names = [t.name for t in self.tools]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"tools: {', '.join(doubled)} listed more than once")
        for index, scenario in enumerate(self.probes):
            unknown = sorted({c.name for c in scenario} - set(names)) if names else []
            if unknown:
                raise ValueError(
                    f"probes[{index}] calls {', '.join(unknown)}, not among the task's tools "
                    f"({', '.join(names)})"
                )
        return self

    # -- files --------------------------------------------------------------------------------
    @classmethod
    def in_folder(cls, folder: str | os.PathLike[str], **fields: Any) -> RFTTask:
        """A task whose relative data paths are read from ``folder`` (not the working directory)."""
        return cls.model_validate(fields, context={"root": Path(folder).resolve()})

    @property
    def root(self) -> Path:
        """The folder of the task file once saved or loaded (the working directory before)."""
        return self._root

    def path(self, split: Literal["train", "validation"]) -> Path | None:
        """The absolute path of a split's file (None for a missing validation file)."""
        return self.training_file if split == "train" else self.validation_file

    def items(self, split: Literal["train", "validation"] = "train") -> list[dict[str, Any]]:
        """The split's dataset lines; DatasetValidationError lists every unreadable line."""
        path = self.path(split)
        return [] if path is None else load_jsonl(path)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the task as JSON; data paths are stored relative to the file's folder."""
        target = Path(path).resolve()
        body = self.model_dump(mode="json", exclude_none=True)
        if not self.probes:  # task files written before the field stay as they were
            body.pop("probes")
        for key in ("training_file", "validation_file"):
            absolute = self.path("train" if key == "training_file" else "validation")
            if absolute is not None:
                body[key] = Path(os.path.relpath(absolute, target.parent)).as_posix()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self._root = target.parent
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RFTTask:
        """Read a task file; errors name the file and the field, and missing data files."""
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: cannot read the task file ({exc})") from None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(body, dict):
            raise ValueError(f"{source}: a task file holds one JSON object")
        folder = source.resolve().parent
        try:
            task = cls.model_validate(body, context={"root": folder})
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        task._root = folder
        for split in ("train", "validation"):
            file = task.path(split)
            if file is not None and not file.is_file():
                raise ValueError(f"{source}: the {split} file {file} does not exist")
        return task

    # -- what backends send --------------------------------------------------------------------
    def job_tools(self, env: Mapping[str, str] | None = None) -> list[JobTool]:
        """The job's ``tools`` with header values resolved (TaskSecretError names a missing one)."""
        return [tool.resolve(env) for tool in self.tools]

    def resolved_grader(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The grader config with any endpoint grader's header references resolved."""
        env = os.environ if env is None else env

        def resolved(path: str, key: str, value: str) -> str:
            return resolve(value, env, f"{path}.{key}")

        return map_headers(self.grader, resolved, "grader")

    def reinforcement_method(
        self, env: Mapping[str, str] | None = None, *, redact: bool = False
    ) -> dict[str, Any]:
        """``method`` of the create request as OpenAI and Microsoft publish it
        (docs/hosted-api.md §2.2).

        ``redact=True`` masks every header value the way the service echoes them (``**********``),
        for showing the request without resolving anything.
        """
        if redact:
            grader = mask_headers(self.grader)
            tools = [mask_headers(t.model_dump()) for t in self.tools]
        else:
            grader = self.resolved_grader(env)
            tools = [t.model_dump() for t in self.job_tools(env)]
        body: dict[str, Any] = {"grader": grader}
        if self.response_format is not None:
            body["response_format"] = json.loads(json.dumps(self.response_format))
        if tools:
            body["tools"] = tools
            if self.max_episode_steps is not None:  # an Agent RFT field: only with tools
                body["max_episode_steps"] = self.max_episode_steps
        if self.hyperparameters:
            body["hyperparameters"] = dict(self.hyperparameters)
        return Method.reinforcement_body(**body)

    def content_hash(self) -> str:
        """sha256 (hex) over the data bytes and everything that shapes the job, secrets excluded."""
        digest = hashlib.sha256()
        for split in ("train", "validation"):
            file = self.path(split)
            digest.update(split.encode())
            digest.update(b"-" if file is None else hashlib.sha256(file.read_bytes()).digest())
        left_out = {"name", "platform", "training_file", "validation_file", "probes"}
        if self.response_format is None:  # so tasks written before the field keep their hash
            left_out.add("response_format")
        shape = self.model_dump(mode="json", exclude=left_out)
        digest.update(json.dumps(shape, sort_keys=True, ensure_ascii=False).encode())
        return digest.hexdigest()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The grader dict can be long (python sources); the repr names it by type. No probes
        # are left out, so a task's repr reads as it did before the field.
        for key, value in super().__repr_args__():
            if key == "probes" and not value:
                continue
            yield (key, f"<{value.get('type')} grader>" if key == "grader" else value)


def check_response_format(value: Any, where: str = "response_format") -> None:
    """ValueError naming what is wrong unless ``value`` is a ``json_schema`` response format in
    OpenAI's nested form or Azure's flat form, with a valid JSON Schema."""
    if not isinstance(value, Mapping) or value.get("type") != "json_schema":
        raise ValueError(f'{where} must be an object with "type": "json_schema"')
    inner = value.get("json_schema", value)
    if not isinstance(inner, Mapping):
        raise ValueError(f"{where}.json_schema must be an object with name and schema")
    name, schema = inner.get("name"), inner.get("schema")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ValueError(f"{where}: name must be 1-64 letters, digits, _ or -")
    if not isinstance(schema, Mapping):
        raise ValueError(f"{where}: schema must be a JSON Schema object")
    if "strict" in inner and not isinstance(inner["strict"], bool):
        raise ValueError(f"{where}: strict must be true or false")
    from jsonschema import Draft202012Validator, SchemaError  # only when a task sets a format

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"{where}: the schema is not valid JSON Schema ({exc.message})") from None
