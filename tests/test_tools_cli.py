"""``rftkit tools serve``: where the token comes from, and what is printed about it."""

import httpx
import pytest

from rftkit import tools_cli
from rftkit.cli import main
from rftkit.serving import serve_in_background


@pytest.fixture
def served(monkeypatch):
    """Capture the app ``serve`` would run, instead of blocking in uvicorn.run."""
    captured = {}
    monkeypatch.setattr(tools_cli.uvicorn, "run", lambda app, **kw: captured.update(app=app, **kw))
    return captured


def test_serve_uses_the_env_token_and_never_prints_it(served, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RFTKIT_TOOL_TOKEN", "env-token-123456")
    assert main(["tools", "serve", "--world-dir", str(tmp_path), "--port", "9"]) == 0
    out = capsys.readouterr().out
    assert "token: from $RFTKIT_TOOL_TOKEN" in out and "env-token-123456" not in out
    assert (tmp_path / "seed-0" / "compact" / "reports").is_dir()
    assert served["host"] == "127.0.0.1" and served["port"] == 9
    with serve_in_background(served["app"]) as url:
        ok = httpx.get(f"{url}/tools", headers={"Authorization": "Bearer env-token-123456"})
        assert ok.status_code == 200
        assert httpx.get(f"{url}/tools").status_code == 401


def test_serve_prints_a_token_only_when_asked_to_generate_one(
    served, monkeypatch, tmp_path, capsys
):
    monkeypatch.delenv("RFTKIT_TOOL_TOKEN", raising=False)
    assert main(["tools", "serve", "--world-dir", str(tmp_path), "--generate-token"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("token"))
    token = line.rsplit(": ", 1)[1]
    with serve_in_background(served["app"]) as url:
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/tools", headers=headers).status_code == 200


def test_serve_refuses_to_run_open_unless_on_loopback(served, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("RFTKIT_TOOL_TOKEN", raising=False)
    args = ["tools", "serve", "--world-dir", str(tmp_path)]
    assert main(args) == 2 and "no token" in capsys.readouterr().err
    assert main([*args, "--no-auth", "--host", "0.0.0.0"]) == 2
    assert main([*args, "--no-auth"]) == 0 and "app" in served
