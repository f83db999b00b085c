"""The background server really serves over loopback and really stops."""

from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from rftkit.serving import serve_in_background


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def test_serves_over_loopback_then_stops():
    with serve_in_background(_app()) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/ping").json() == {"pong": "yes"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/ping", timeout=1)


def test_two_servers_get_different_ports():
    with serve_in_background(_app()) as first, serve_in_background(_app()) as second:
        assert first != second


def test_an_app_that_cannot_start_raises_instead_of_hanging():
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        raise RuntimeError("no corpus")
        yield

    app = FastAPI(lifespan=lifespan)
    with pytest.raises(RuntimeError, match="did not start"), serve_in_background(app):
        pass
