"""A tool server written the way OpenAI's build-hours writes one comes out ready, with notes.

The fixture imitates the *style* of ``openai/build-hours`` ``20-agent-rft/tool_server_modal.py``
(read 2026-12-01; not copied): FastAPI with an ``HTTPBearer`` dependency answering 401, one route
per tool (``/search``, ``/list``, ``/cat``) that ignores the call's ``name``, arguments accepted as
a JSON string or an object, replies ``{"output", "call_id", "id"}`` without a ``type``, the
model's mistakes answered 200 with ``"Error: …"`` text, no ``/healthz``, no ``/tools``, no body
size limit. Its corpus is three made-up documents.
"""

import json
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rftkit.cli import main
from rftkit.endpoints import check_endpoint, check_tools
from rftkit.protocol import JobTool
from rftkit.serving import serve_in_background

TOKEN = "bh-style-token-7f3a9c"
DOCUMENTS = {
    "reports/acme/2024.txt": "Acme revenue 2024: 120.5",
    "reports/acme/2025.txt": "Acme revenue 2025: 131.0",
    "reports/zen/2025.txt": "Zen revenue 2025: 88.2",
}
SPECS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {
                "type": "object",
                "properties": {field: {"type": "string"}},
                "required": [field],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    for name, field in (("search", "query"), ("list", "path"), ("cat", "path"))
]


def buildhours_style_app() -> FastAPI:
    web = FastAPI()
    bearer = HTTPBearer(auto_error=False)

    def verify(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if credentials is None or credentials.credentials != TOKEN:
            raise HTTPException(status_code=401, detail="Invalid bearer token")

    async def arguments_of(request: Request) -> tuple[dict, str, str]:
        try:
            body = json.loads(await request.body())
            raw = body["arguments"]
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except (ValueError, KeyError):
            raise HTTPException(status_code=400, detail="arguments must be a JSON object") from None
        return arguments, body.get("call_id", ""), body.get("id", "")

    def reply(output: str, call_id: str, id_: str) -> dict:
        return {"output": output, "call_id": call_id, "id": id_}

    @web.post("/search", dependencies=[Depends(verify)])
    async def search(request: Request) -> dict:
        arguments, call_id, id_ = await arguments_of(request)
        query = str(arguments.get("query", "")).strip().lower()
        if not query:
            return reply("Error: query is required", call_id, id_)
        hits = [path for path, text in DOCUMENTS.items() if query in text.lower()]
        return reply(str(hits or sorted(DOCUMENTS)[:1]), call_id, id_)

    @web.post("/list", dependencies=[Depends(verify)])
    async def list_(request: Request) -> dict:
        arguments, call_id, id_ = await arguments_of(request)
        prefix = str(arguments.get("path", "")).strip().rstrip("/")
        if prefix in DOCUMENTS:
            return reply("Error: not a valid directory", call_id, id_)
        return reply(str(sorted(p for p in DOCUMENTS if p.startswith(prefix))), call_id, id_)

    @web.post("/cat", dependencies=[Depends(verify)])
    async def cat(request: Request) -> dict:
        arguments, call_id, id_ = await arguments_of(request)
        path = str(arguments.get("path", "")).strip()
        if path not in DOCUMENTS:
            return reply("Error: not a valid document", call_id, id_)
        return reply(DOCUMENTS[path], call_id, id_)

    return web


def test_a_buildhours_style_server_is_ready_with_the_four_conventions_as_notes():
    with serve_in_background(buildhours_style_app()) as url:
        report = check_endpoint(url, TOKEN, tools=SPECS, tool_path="/{name}", rollouts=15, calls=3)
    assert report.ready, report.blockers
    table = report.contract_table()
    notes = table.query("result == 'note'")
    assert set(notes["check"]) == {"healthz", "bad arguments", "unknown tool", "body over 1 MB"}
    assert notes.query("check == 'unknown tool'")["got"].str.startswith("200").all()
    assert notes.query("check == 'body over 1 MB'")["got"].str.startswith("200").all()
    assert set(table.query("check == 'valid call'")["result"]) == {"pass"}
    assert set(table.query("check in ['no headers', 'wrong header values']")["result"]) == {"pass"}
    # No /traces route: the crossed-rollout check falls back to the echoed call_id.
    assert report.burst_summary()["trace logs checked"] == 0
    assert report.burst_summary()["status counts"] == "200: 45"
    assert report.burst_summary()["isolation violations"] == 0
    assert any("build-hours' convention" in note for note in report.notes)


def test_check_tools_takes_a_jobs_tools_config_with_a_url_per_tool():
    with serve_in_background(buildhours_style_app()) as url:
        job_tools = [
            {
                "name": spec["function"]["name"],
                "server_url": f"{url}/{spec['function']['name']}",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            }
            for spec in SPECS
        ]
        report = check_tools(
            job_tools, SPECS, examples={"cat": {"path": "reports/zen/2025.txt"}}, rollouts=6
        )
        refused = check_tools(  # the lead's task may hold JobTool models rather than dicts
            [
                JobTool(**{**tool, "headers": {"Authorization": "Bearer not-the-token"}})
                for tool in job_tools
            ],
            SPECS,
            rollouts=3,
        )
        typo = check_tools(
            [*job_tools[:2], {**job_tools[2], "server_url": f"{url}/cta"}], SPECS, rollouts=0
        )
    assert not typo.ready
    assert typo.blockers == [
        'contract: cat: valid call: got 404: {"detail":"Not Found"} — no route answers POST '
        "at this server_url: check the tool's URL"
    ]
    assert report.ready
    cat = report.contract_table().query("check == 'valid call' and tool == 'cat'")
    assert cat["got"].iloc[0] == "200, output 'Zen revenue 2025: 88.2'"
    assert not refused.ready
    assert any("refuses the task's headers" in b for b in refused.blockers)
    assert any("refused the task's headers (401/403)" in b for b in refused.blockers)
    frame = refused.findings_table()
    assert list(frame.columns) == ["severity", "source", "finding"]
    assert "BLOCKER" in set(frame["severity"])


def test_cli_checks_it_with_specs_from_a_file_and_a_header_from_the_environment(
    tmp_path, capsys, monkeypatch
):
    specs_file = tmp_path / "line.json"
    specs_file.write_text(json.dumps({"messages": [], "tools": SPECS}))
    monkeypatch.setenv("BH_TOOL_TOKEN", TOKEN)
    with serve_in_background(buildhours_style_app()) as url:
        status = main(
            [
                "endpoints",
                "check",
                url,
                "--header",
                "Authorization: Bearer ${BH_TOOL_TOKEN}",
                "--tools-from",
                str(specs_file),
                "--tool-path",
                "/{name}",
                "--probe",
                'cat={"path": "reports/acme/2025.txt"}',
                "--rollouts",
                "5",
                "--calls",
                "3",
            ]
        )
    out = capsys.readouterr().out
    assert status == 0, out
    # healthz once for the host; bad arguments, unknown tool and 1 MB once per tool URL.
    assert "READY" in out.splitlines() and "NOTES (10)" in out
    assert "headers: Authorization (--header)" in out
    assert "Acme revenue 2025: 131.0" in out  # the given example's real answer
    assert TOKEN not in out
