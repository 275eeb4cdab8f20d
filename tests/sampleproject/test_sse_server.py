"""Many open event streams on one real uvicorn worker."""

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.servers import ROOT, free_port, running_server

STREAMS = int(os.environ.get("SSE_STREAMS", "500"))


@pytest.fixture
def board_server(tmp_path):
    env = {
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }
    subprocess.run(
        [sys.executable, "sampleproject/manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "sampleproject.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    with running_server(command, base + "/api/summary/", env=env):
        yield base


async def open_stream(
    client: httpx.AsyncClient, opened: asyncio.Queue, release: asyncio.Event
):
    async with client.stream("GET", "/events/") as response:
        assert response.headers["x-board-stream"] == "live"
        chunks = response.aiter_text()
        first = await anext(chunks)
        assert first.startswith("retry: 3000")
        await opened.put(True)
        await release.wait()
        received = ""
        if os.environ.get("REDIS_URL"):
            async with asyncio.timeout(10):
                while "event: check" not in received:
                    received += await anext(chunks)
        return received


async def hold_streams(base: str) -> tuple[int, list[str]]:
    limits = httpx.Limits(max_connections=STREAMS + 10)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=timeout
    ) as client:
        opened: asyncio.Queue = asyncio.Queue()
        release = asyncio.Event()
        tasks = [
            asyncio.create_task(open_stream(client, opened, release))
            for _ in range(STREAMS)
        ]
        async with asyncio.timeout(60):
            for _ in range(STREAMS):
                await opened.get()
        # With every stream open, the worker still serves ordinary requests.
        summary = await client.get("/api/summary/")
        assert summary.json() == {"services": 0, "enabled": 0}
        if os.environ.get("REDIS_URL"):
            from sampleproject.board.redisbroadcast import RedisBroadcaster

            broadcaster = RedisBroadcaster(os.environ["REDIS_URL"])
            await broadcaster.publish("board", {"slug": "all"}, kind="check")
            await broadcaster.close()
        release.set()
        received = await asyncio.gather(*tasks)
        return STREAMS, received


def test_one_worker_holds_hundreds_of_streams(board_server):
    held, received = asyncio.run(hold_streams(board_server))
    assert held == STREAMS
    if os.environ.get("REDIS_URL"):
        assert all('"slug":"all"' in body for body in received)
