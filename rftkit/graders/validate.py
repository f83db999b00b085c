"""Check a grader config the way ``graders.validate`` does, with errors that name the field.

Each grader type is checked against the ``openai`` SDK's own TypedDict
(``openai.types.graders.*Param``) through pydantic, so field names, required fields and enums
come from the SDK, not from a copy. On top of that: ``multi`` holds a dict of sub-graders (the SDK
types it wrongly as one grader, docs/hosted-api.md §5.4) and no nested ``multi``;
``calculate_output`` parses and uses only sub-grader keys; every template names ``item`` or
``sample``; ``passing_labels`` ⊆ ``labels``; ``range`` is two increasing numbers; a python grader
compiles, defines ``grade`` and fits in 256 kB. The ``endpoint`` type has no SDK type yet; its
fields come from Microsoft's and OpenAI's samples (docs/hosted-api.md §4.4). Every ``{{`` in a
templated field must close on the same line with ``}}`` around a valid path: an unclosed one is an
error naming the field, never literal text that a sample could match.

``name`` is optional for ``python`` and ``multi`` graders, which OpenAI's graders and RFT guides
print without one and the service accepts (issue #16): the normalised grader gets the type as its
name, or its key inside a ``multi``. A sub-grader without a name is accepted with a warning,
because the service publishes per-grader reward metrics under that name.

Warnings (:class:`GraderValidationWarning`, also returned by :func:`grader_warnings`) are for
what the service accepts but will likely not do what was meant: a missing sub-grader name, a
python grader importing a module the service's image lacks or naming an undocumented
``image_tag`` (:mod:`rftkit.graders.environment`), and — given dataset ``items`` — a
``text_similarity`` metric that cannot reward the dataset's own reference answers
(:mod:`rftkit.graders.reference_check`).

Example::

    >>> validate_grader({"type": "string_check", "name": "x", "input": "{{sample.output_text}}",
    ...                  "reference": "{{item.answer}}", "operation": "neq"})
    Traceback (most recent call last):
    GraderValidationError: operation: Input should be 'eq', 'ne', 'like' or 'ilike'
"""

from __future__ import annotations

import ast
import copy
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Literal, Required

from openai.types.graders import (
    LabelModelGraderParam,
    PythonGraderParam,
    ScoreModelGraderParam,
    StringCheckGraderParam,
    TextSimilarityGraderParam,
)
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from rftkit.errors import RFTKitError
from rftkit.graders import environment
from rftkit.graders.formula import Formula, FormulaError
from rftkit.graders.reference_check import check_metric_rewards_references
from rftkit.graders.similarity import EVALS_ONLY
from rftkit.graders.templating import PLACEHOLDER, TemplateError, parse_path, variables


class EndpointGraderParam(TypedDict, total=False):
    """``type: "endpoint"``: POST ``{sample, item, trace_id}`` to ``url``, read ``{score}``."""

    type: Required[Literal["endpoint"]]
    name: str
    url: Required[str]
    headers: dict[str, str]
    rate_limit: float
    pass_threshold: float


class _MultiShape(TypedDict, total=False):
    type: Required[Literal["multi"]]
    name: Required[str]
    graders: Required[dict[str, dict[str, Any]]]
    calculate_output: Required[str]


SCHEMAS: dict[str, Any] = {
    "string_check": StringCheckGraderParam,
    "text_similarity": TextSimilarityGraderParam,
    "python": PythonGraderParam,
    "score_model": ScoreModelGraderParam,
    "label_model": LabelModelGraderParam,
    "endpoint": EndpointGraderParam,
    "multi": _MultiShape,
}
TEMPLATED_FIELDS = ("input", "reference")
NAME_OPTIONAL = frozenset({"python", "multi"})
"""Types the guides print without ``name`` (``tests/data/published_graders``)."""
_OPEN = re.compile(r"\{\{")
_LAZY_FIELDS = {"score_model", "label_model"}
"""Types whose SDK params have ``Iterable`` fields, which pydantic validates only when walked."""


class GraderValidationWarning(UserWarning):
    """Accepted by the service, but likely not what was meant; the message names the field."""


class GraderValidationError(ValueError, RFTKitError):
    """An invalid grader config; ``path`` is the field, e.g. ``graders.correct.operation``."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


@cache
def _adapter(kind: str) -> TypeAdapter:
    return TypeAdapter(SCHEMAS[kind])


def _join(prefix: str, *parts: object) -> str:
    return ".".join(p for p in (prefix, *(str(x) for x in parts)) if p)


def _materialise(value: Any, path: str) -> Any:
    """pydantic validates ``Iterable`` fields lazily; walk them so errors surface here."""
    if isinstance(value, dict):
        return {k: _materialise(v, _join(path, k)) for k, v in value.items()}
    if isinstance(value, (str, bytes, list, tuple, int, float, bool)) or value is None:
        return value
    if isinstance(value, Iterable):
        try:
            return [_materialise(v, _join(path, i)) for i, v in enumerate(value)]
        except ValidationError as exc:
            first = exc.errors()[0]
            raise GraderValidationError(first["msg"], _join(path, *first["loc"])) from None
    return value


def _check_schema(grader: Any, path: str) -> None:
    if not isinstance(grader, Mapping):
        raise GraderValidationError(
            f"a grader must be an object, not {type(grader).__name__}", path
        )
    kind = grader.get("type")
    if kind not in SCHEMAS:
        raise GraderValidationError(
            f"unknown grader type {kind!r}; one of {', '.join(SCHEMAS)}", _join(path, "type")
        )
    candidate = dict(grader)
    if kind in NAME_OPTIONAL and "name" not in candidate:
        candidate["name"] = kind
    try:
        validated = _adapter(kind).validate_python(candidate)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise GraderValidationError(first["msg"], _join(path, *first["loc"])) from None
    if kind in _LAZY_FIELDS:
        _materialise(validated, path)
    if kind == "multi":
        if not grader["graders"]:
            raise GraderValidationError("needs at least one sub-grader", _join(path, "graders"))
        for key, sub in grader["graders"].items():
            if isinstance(sub, Mapping) and sub.get("type") == "multi":
                raise GraderValidationError(
                    "a multi grader cannot contain another multi", _join(path, "graders", key)
                )
            _check_schema(sub, _join(path, "graders", key))


def check_structure(grader: Any) -> None:
    """The checks without which a grader cannot even start (type and required fields)."""
    _check_schema(grader, "")


def unclosed_template(text: str) -> int | None:
    """Where the first ``{{`` that no ``}}`` closes on its line starts; None when all close."""
    filled = [match.span() for match in PLACEHOLDER.finditer(text)]
    for opening in _OPEN.finditer(text):
        if not any(start <= opening.start() < end for start, end in filled):
            return opening.start()
    return None


def _check_templates(text: Any, path: str) -> None:
    if isinstance(text, str):
        position = unclosed_template(text)
        if position is not None:
            raise GraderValidationError(
                f"unclosed template at character {position}: {text[position : position + 40]!r} "
                "(each '{{' needs a '}}' on the same line)",
                path,
            )
        for variable in variables(text):
            try:
                parse_path(variable)
            except TemplateError as exc:
                raise GraderValidationError(str(exc), path) from None
    elif isinstance(text, Mapping):
        for key, value in text.items():
            _check_templates(value, _join(path, key))
    elif isinstance(text, list):
        for index, value in enumerate(text):
            _check_templates(value, _join(path, index))


def _check_semantics(grader: Mapping[str, Any], path: str) -> None:
    kind = grader["type"]
    for name in TEMPLATED_FIELDS:
        if name in grader:
            _check_templates(grader[name], _join(path, name))
    if kind == "multi":
        try:
            formula = Formula.parse(grader["calculate_output"])
        except FormulaError as exc:
            raise GraderValidationError(str(exc), _join(path, "calculate_output")) from None
        unknown = formula.variables - set(grader["graders"])
        if unknown:
            raise GraderValidationError(
                f"uses {', '.join(sorted(unknown))}, not keys of graders "
                f"({', '.join(sorted(grader['graders']))})",
                _join(path, "calculate_output"),
            )
        for key, sub in grader["graders"].items():
            if not key.isidentifier():
                raise GraderValidationError(
                    "sub-grader keys must be identifiers to appear in calculate_output",
                    _join(path, "graders", key),
                )
            _check_semantics(sub, _join(path, "graders", key))
    elif kind == "label_model":
        extra = [label for label in grader["passing_labels"] if label not in grader["labels"]]
        if extra:
            raise GraderValidationError(
                f"{extra} are not among labels {list(grader['labels'])}",
                _join(path, "passing_labels"),
            )
    elif kind == "score_model" and "range" in grader:
        bounds = list(grader["range"])
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise GraderValidationError(
                f"must be two increasing numbers, got {bounds}", _join(path, "range")
            )
    elif kind == "python":
        _check_python(grader["source"], _join(path, "source"))
    elif kind == "endpoint" and not str(grader["url"]).startswith(("http://", "https://")):
        raise GraderValidationError("must be an http(s) URL", _join(path, "url"))


def _check_rft_only(grader: Mapping[str, Any], path: str) -> None:
    if grader["type"] == "multi":
        for key, sub in grader["graders"].items():
            _check_rft_only(sub, _join(path, "graders", key))
    elif grader["type"] == "text_similarity" and grader["evaluation_metric"] in EVALS_ONLY:
        raise GraderValidationError(
            f"{grader['evaluation_metric']!r} is evals-only: OpenAI refuses it in RFT jobs "
            "(validate with purpose='evals' for an eval)",
            _join(path, "evaluation_metric"),
        )


def _check_python(source: str, path: str) -> None:
    from rftkit.graders.sandbox import MAX_SOURCE_BYTES

    size = len(source.encode())
    if size > MAX_SOURCE_BYTES:
        raise GraderValidationError(f"{size} bytes; the limit is {MAX_SOURCE_BYTES}", path)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GraderValidationError(f"line {exc.lineno}: {exc.msg}", path) from None
    except (RecursionError, MemoryError):
        raise GraderValidationError("nested too deeply to parse", path) from None
    defines = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    if "grade" not in defines:
        raise GraderValidationError("must define grade(sample, item) at top level", path)


def _warnings(grader: Mapping[str, Any], path: str) -> list[str]:
    found = []
    if grader["type"] == "multi":
        for key, sub in grader["graders"].items():
            where = _join(path, "graders", key)
            if "name" not in sub:
                found.append(
                    f"{where}.name: missing; the service reports this sub-grader's reward metrics "
                    f"by name, so the kit names it {key!r}"
                )
            found.extend(_warnings(sub, where))
    elif grader["type"] == "python":
        missing = environment.unavailable_imports(grader["source"])
        if missing:
            found.append(
                f"{_join(path, 'source')}: imports {', '.join(missing)}, not in OpenAI's "
                f"python-grader image {environment.IMAGE_TAG} ({environment.SOURCE})"
            )
        tag = grader.get("image_tag")
        if tag is not None and tag != environment.IMAGE_TAG:
            found.append(
                f"{_join(path, 'image_tag')}: {tag!r} is not documented; the guide lists only "
                f"{environment.IMAGE_TAG!r}, whose packages the kit checks imports against"
            )
    return found


def grader_warnings(
    grader: Mapping[str, Any], items: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    """What the service would accept but probably not as meant, each naming the field.

    ``grader`` must be valid (see :func:`validate_grader`). With ``items`` (dataset lines), also
    every ``text_similarity`` metric that cannot reward those lines' own reference answers.
    """
    found = _warnings(grader, "")
    if items:
        found.extend(check_metric_rewards_references(grader, items).problems)
    return found


def validate_grader(
    grader: Mapping[str, Any],
    *,
    purpose: Literal["rft", "evals"] = "rft",
    items: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The grader, normalised (default ``name``, ``score_model``'s ``range``); or the first error.

    Raises GraderValidationError whose ``path`` names the field (``graders.correct.operation``).
    ``purpose="rft"`` (the default) also refuses what OpenAI accepts only in Evals (``cosine``).
    Each of :func:`grader_warnings` (given ``items``, the dataset check too) is emitted as a
    :class:`GraderValidationWarning`.
    """
    _check_schema(grader, "")
    _check_semantics(grader, "")
    if purpose == "rft":
        _check_rft_only(grader, "")
    for message in grader_warnings(grader, items):
        warnings.warn(message, GraderValidationWarning, stacklevel=2)
    normalised = copy.deepcopy(dict(grader))
    _fill_defaults(normalised, normalised["type"])
    return normalised


def _fill_defaults(grader: dict[str, Any], name: str) -> None:
    grader.setdefault("name", name)
    if grader["type"] == "score_model":
        grader.setdefault("range", [0.0, 1.0])
    if grader["type"] == "multi":
        for key, sub in grader["graders"].items():
            _fill_defaults(sub, key)
