"""One secrets module: ``${NAME}`` everywhere (``$NAME`` refused with the fix), one mask, one walk;
a resolved secret never reaches a masked body, a repr, a redacted text or an error."""

import json
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rftkit.endpoints import check_tools
from rftkit.protocol import JobTool
from rftkit.secrets import (
    MASK,
    MIN_SECRET_CHARS,
    HeaderError,
    MissingSecretError,
    Redactor,
    SecretReferenceError,
    header_dicts,
    mask,
    mask_headers,
    mask_urls,
    parse_headers,
    resolve,
    secrets_of,
)
from rftkit.task import RFTTask, TaskSecretError, TaskTool

NAMES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
SECRETS = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~+/=:@!#%&", min_size=8, max_size=40
)
HEADER_NAMES = st.sampled_from(["Authorization", "X-Api-Key", "X-Functions-Key", "Cookie"])


@settings(max_examples=300, deadline=None)
@given(name=NAMES, secret=SECRETS, header=HEADER_NAMES, scheme=st.sampled_from(["Bearer ", ""]))
def test_a_resolved_secret_never_appears_masked_redacted_or_in_a_repr(name, secret, header, scheme):
    template = f"{scheme}${{{name}}}"
    value = resolve(template, {name: secret}, f"tools[t].headers.{header}")
    assert value == scheme + secret
    tool = JobTool(name="t", server_url="https://tools.example/call", headers={header: value})
    fixed = repr(JobTool(name="t", server_url="https://tools.example/call")) + MASK + "'\"{}[]"
    assume(secret not in fixed)  # a secret spelled like the fixed text cannot be told apart
    body = {
        "tools": [tool.model_dump()],
        "grader": {
            "type": "multi",
            "graders": {
                "g": {"type": "endpoint", "url": "https://g.example", "headers": {header: value}}
            },
        },
    }
    shown = json.dumps(mask_headers(body)) + repr(tool) + json.dumps(tool.redacted())
    assert secret not in shown
    echoed = f"upstream said: {json.dumps({header: value})} and {value}"
    assert secret not in Redactor(secrets_of({header: value}))(echoed)
    assert secret not in mask(echoed, [value, secret])


@settings(max_examples=100, deadline=None)
@given(name=NAMES, secret=SECRETS)
def test_a_missing_variable_is_named_and_no_value_is_shown(name, secret):
    other = name + "_OTHER"
    with pytest.raises(MissingSecretError) as error:
        resolve(f"${{{name}}}:${{{other}}}", {name: secret}, "--header X-Key")
    assert f"--header X-Key: environment variable {other} is not set" in str(error.value)
    assert secret not in str(error.value)


def test_bare_dollar_name_is_refused_with_the_fix_naming_the_header_and_where():
    with pytest.raises(HeaderError) as error:
        parse_headers(["Authorization: Bearer $TOOL_TOKEN"], {"TOOL_TOKEN": "s3cret-token"})
    assert str(error.value) == (
        "--header Authorization: $TOOL_TOKEN is not a reference; write ${TOOL_TOKEN} to read the "
        "environment variable (or $$ for a literal '$')"
    )
    with pytest.raises(ValueError, match=r"tools\[calc\]\.headers\.X-Team: \$TEAM"):
        TaskTool(name="calc", server_url="https://t.example", headers={"X-Team": "a-$TEAM"})
    with pytest.raises(SecretReferenceError, match=r"write \$\{TOK\}"):
        resolve("Bearer $TOK", {"TOK": "s3cret-token"}, "grader.headers.Authorization")


def test_a_pasted_token_is_refused_without_being_quoted_in_the_error(tmp_path):
    pasted = "sk-9f3a7c"  # short enough that pydantic would quote it whole
    with pytest.raises(ValueError, match="literal value") as error:
        TaskTool(name="t", server_url="https://t.example", headers={"Authorization": pasted})
    with pytest.raises(ValueError, match="literal value") as in_grader:
        RFTTask(
            name="t",
            training_file=tmp_path / "x.jsonl",
            grader={
                "type": "endpoint",
                "name": "g",
                "url": "https://g",
                "headers": {"X-Key": pasted},
            },
        )
    assert pasted not in str(error.value) + repr(error.value) + str(in_grader.value)


def test_a_task_file_with_a_bare_reference_names_the_file_and_the_header(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    task = {
        "name": "t",
        "training_file": "train.jsonl",
        "grader": {"type": "endpoint", "name": "g", "url": "https://g.example",
                   "headers": {"Authorization": "Bearer $GRADER_KEY"}},
    }  # fmt: skip
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    with pytest.raises(ValueError) as error:
        RFTTask.load(path)
    message = str(error.value)
    assert str(path) in message and "grader.headers.Authorization" in message
    assert "write ${GRADER_KEY}" in message


def test_the_one_dialect_means_the_same_in_a_task_and_on_the_command_line(tmp_path):
    env = {"TOK": "s3cret-token", "TEAM": "search"}
    options = ["Authorization: Bearer ${TOK}", "X-Team: ${TEAM}", "X-Price: $$5"]
    from_cli = parse_headers(options, env)
    tool = TaskTool(name="t", server_url="https://t.example", headers=dict(
        option.split(": ", 1) for option in options))  # fmt: skip
    assert tool.resolve(env).headers == from_cli
    assert from_cli == {"Authorization": "Bearer s3cret-token", "X-Team": "search", "X-Price": "$5"}
    assert TaskSecretError is MissingSecretError


def test_one_walk_finds_every_headers_object_and_one_mask_is_shown_everywhere():
    body = {
        "tools": [{"name": "a", "headers": {"K": "1"}}],
        "grader": {"type": "multi", "graders": {"j": {"headers": {"Authorization": "x"}}}},
    }
    assert [path for path, _ in header_dicts(body)] == [
        "tools[0].headers",
        "grader.graders.j.headers",
    ]
    assert mask_headers(body)["grader"]["graders"]["j"]["headers"] == {"Authorization": MASK}
    assert mask_urls("https://u:pw@h/x?api_key=k1") == f"https://{MASK}@h/x?api_key={MASK}"
    assert Redactor(["tok-123456"])("a tok-123456 b") == f"a {MASK} b"
    assert mask("short abc", ["abc"]) == "short abc" and MIN_SECRET_CHARS == 4


def test_a_tool_check_refuses_unresolved_references_and_sends_nothing():
    stored = TaskTool(name="t", server_url="http://127.0.0.1:9/t",
                      headers={"Authorization": "Bearer ${TOOL_TOKEN}"})  # fmt: skip
    for tool in (stored, stored.model_dump()):
        with pytest.raises(ValueError, match=r"header Authorization still holds the reference"):
            check_tools([tool], rollouts=0)
    with pytest.raises(ValueError, match=r"job tool #0: server_url: String should match"):
        check_tools([{"name": "t", "server_url": "ftp://h/t", "headers": {"X-Key": "k-123456"}}])
