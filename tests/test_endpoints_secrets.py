"""No header value or URL credential reaches what the readiness check prints, reports or raises,
even from a server that echoes the request headers back in every reply."""

import base64
import json

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rftkit.cli import main
from rftkit.course.world import generate_world, write_corpus
from rftkit.endpoints import check_endpoint, check_tools
from rftkit.secrets import Redactor, secrets_of, strip_userinfo
from rftkit.serving import serve_in_background
from tools_service.app import create_app

TOKEN = "s3cret-bearer-token-value-91"
API_KEY = "functions-key-0c7e5b"
USER, PASSWORD = "deploy", "url-pass-word-55"
SPECS = [{"type": "function", "function": {"name": "echo", "parameters": {"type": "object"}}}]


def echoing_app() -> FastAPI:
    """Answers every call (and every error) with the request's headers, as debug servers do."""
    web = FastAPI()

    def headers_of(request: Request) -> str:
        echoed = ("authorization", "x-functions-key")
        return json.dumps({k: v for k, v in request.headers.items() if k in echoed})

    @web.get("/tools")
    async def tools() -> list:
        return SPECS

    @web.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"error": headers_of(request)}, status_code=503)

    @web.post("/{name}")
    async def call(name: str, request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            json.loads(body["arguments"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": headers_of(request)}, status_code=400)
        if name != body.get("name"):
            return JSONResponse({"error": headers_of(request)}, status_code=404)
        output = {"call_id": body["call_id"], "output": headers_of(request)}
        return JSONResponse(output)

    return web


def assert_no_secret(text: str) -> None:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (TOKEN, API_KEY, PASSWORD, basic, TOKEN[:18]):
        assert secret not in text


@pytest.fixture(scope="module")
def echo_url():
    with serve_in_background(echoing_app()) as url:
        yield url


def test_echoed_headers_and_url_credentials_are_masked_in_the_report(echo_url):
    with_credentials = echo_url.replace("http://", f"http://{USER}:{PASSWORD}@")
    report = check_tools(
        [
            {
                "name": "echo",
                "server_url": f"{with_credentials}/echo",
                "headers": {"X-Functions-Key": API_KEY},
            }
        ],
        SPECS,
        rollouts=3,
        calls=2,
    )
    echoed = next(c.got for c in report.contract if c.name == "valid call")
    # The server did echo the key and the Basic credentials made from the URL; both masked.
    assert echoed == (
        """200, output '{"x-functions-key": "**********", "authorization": "Basic **********"}'"""
    )
    for shown in (
        report.text(),
        repr(report),
        report.findings_table().to_string(),
        report.contract_table().to_string(),
        str(report.blockers + report.notes),
    ):
        assert_no_secret(shown)
        assert f"{USER}:" not in shown


def test_cli_output_has_no_secret_even_when_the_server_echoes_it(echo_url, capsys, monkeypatch):
    monkeypatch.setenv("ECHO_TOKEN", TOKEN)
    monkeypatch.setenv("ECHO_KEY", API_KEY)
    url = echo_url.replace("http://", f"http://{USER}:{PASSWORD}@")
    both = main(["endpoints", "check", url, "--header", "Authorization: Bearer ${ECHO_TOKEN}"])
    conflict = capsys.readouterr()
    assert both == 2 and "credentials and there is an Authorization header" in conflict.err
    assert_no_secret(conflict.out + conflict.err)
    status = main(
        [
            "endpoints",
            "check",
            url,
            "--header",
            "X-Functions-Key: ${ECHO_KEY}",
            "--tool-path",
            "/{name}",
            "--rollouts",
            "3",
            "--calls",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.out
    assert "headers: X-Functions-Key (--header)" in captured.out
    assert "endpoint: http://**********@127.0.0.1" in captured.out
    assert_no_secret(captured.out + captured.err)


def test_a_missing_variable_is_named_and_nothing_is_sent(capsys):
    status = main(
        ["endpoints", "check", "http://127.0.0.1:9", "--header", "Authorization: Bearer ${NOPE_X}"]
    )
    assert status == 2
    assert "environment variable NOPE_X is not set" in capsys.readouterr().err


def test_data_validate_fetches_tool_specs_with_the_header(tmp_path, capsys, monkeypatch):
    write_corpus(generate_world(seed=0), tmp_path / "corpus", style="compact")
    dataset = tmp_path / "train.jsonl"
    dataset.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    monkeypatch.delenv("RFTKIT_TOOL_TOKEN", raising=False)
    monkeypatch.setenv("SERVICE_TOKEN", TOKEN)
    with serve_in_background(create_app(tmp_path / "corpus", token=TOKEN)) as url:
        refused = main(["data", "validate", str(dataset), "--tools", url])
        refused_err = capsys.readouterr().err
        fetched = main(
            [
                "data",
                "validate",
                str(dataset),
                "--tools",
                url,
                "--header",
                "Authorization: Bearer ${SERVICE_TOKEN}",
            ]
        )
        fetched_out = capsys.readouterr()
    assert refused == 2 and "answered 401: check the headers" in refused_err
    assert fetched in (0, 1), fetched_out.err  # it ran: the specs came back
    assert "cannot get the tool specs" not in fetched_out.err
    assert_no_secret(refused_err + fetched_out.out + fetched_out.err)


def test_redactor_masks_every_spelling_and_url_userinfo():
    secrets = secrets_of(
        {"Authorization": f"Bearer {TOKEN}", "X-Key": 'a"quoted/key'},
        [f"https://{USER}:{PASSWORD}@host.example/x"],
    )
    redact = Redactor(secrets)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    quoted = json.dumps('a"quoted/key')
    text = f"{TOKEN} {quoted} a%22quoted%2Fkey Basic {basic} pw={PASSWORD}"
    masked = redact(text)
    assert TOKEN not in masked and basic not in masked and PASSWORD not in masked
    assert "quoted" not in masked
    shown = strip_userinfo("see https://u:p@h/x and http://h2/")
    assert shown == "see https://**********@h/x and http://h2/"
    assert repr(redact) == "Redactor(...)"


def test_check_endpoint_report_repr_hides_the_token(echo_url):
    report = check_endpoint(echo_url, TOKEN, tool_path="/{name}", rollouts=0)
    assert report.contract and TOKEN not in repr(report) and TOKEN not in report.text()


def test_setup_findings_are_masked_in_the_repr_too():
    report = check_tools(
        [{"name": "t", "server_url": "http://127.0.0.1:9/t", "headers": {"X-Key": API_KEY}}],
        setup=[("note", f"the caller quoted {API_KEY} by mistake")],
        rollouts=0,
        timeout=0.5,
    )
    assert API_KEY not in repr(report) and API_KEY not in report.text()
    assert "the caller quoted ********** by mistake" in repr(report)
    assert not report.ready  # nothing listens on port 9


def test_a_reply_of_the_wrong_shape_is_a_blocker_and_an_echoed_call_id_is_masked():
    web = FastAPI()

    @web.post("/shape")
    async def shape() -> dict:
        return {"result": "ok"}  # no call_id, no output

    @web.post("/html")
    async def html() -> JSONResponse:
        return JSONResponse(f"<html>{TOKEN}</html>")  # a JSON string, not an object

    @web.post("/crossed")
    async def crossed(request: Request) -> dict:
        return {"call_id": request.headers.get("authorization", "-"), "output": "fine"}

    with serve_in_background(web) as url:
        report = check_tools(
            [
                {"name": name, "server_url": f"{url}/{name}", "headers": {"Authorization": TOKEN}}
                for name in ("shape", "html", "crossed")
            ],
            rollouts=2,
            calls=3,
        )
    got = {c.target: c.got for c in report.contract if c.name == "valid call"}
    assert got["shape"] == "200: not a function_call_output (call_id: Field required)"
    assert got["html"].startswith("200: not a function_call_output (body: Input should be")
    assert got["crossed"].startswith("200: call_id '**********' is not the call's")
    assert got["crossed"].endswith("(a crossed reply)")
    assert report.burst_summary()["isolation violations"] == 6
    assert not report.ready
    assert_no_secret(report.text() + repr(report))
