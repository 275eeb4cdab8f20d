"""The event stream: what it sends, and what happens when the browser leaves."""

import asyncio

import pytest
from django.core.asgi import get_asgi_application
from django.test import override_settings

from sampleproject.board.broadcast import get_broadcaster


@pytest.mark.asyncio
async def test_the_stream_sends_what_is_published(async_client):
    response = await async_client.get("/events/")
    assert response["Content-Type"] == "text/event-stream"
    chunks = aiter(response.streaming_content)
    assert await anext(chunks) == b"retry: 3000\n\n"
    await get_broadcaster().publish("board", {"slug": "search"}, kind="check")
    assert await anext(chunks) == b'id: 1\nevent: check\ndata: {"slug":"search"}\n\n'


@pytest.mark.asyncio
@override_settings(BOARD_HEARTBEAT_SECONDS=0.05)
async def test_a_quiet_stream_sends_heartbeats(async_client):
    response = await async_client.get("/events/")
    chunks = aiter(response.streaming_content)
    await anext(chunks)
    assert await anext(chunks) == b": keep-alive\n\n"


@pytest.mark.asyncio
async def test_a_disconnect_unsubscribes():
    # Talk ASGI to Django directly, as uvicorn does, to hang up mid-stream.
    application = get_asgi_application()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/events/",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    from_client = asyncio.Queue()
    to_client = asyncio.Queue()
    await from_client.put({"type": "http.request", "body": b""})
    task = asyncio.create_task(application(scope, from_client.get, to_client.put))
    assert (await to_client.get())["status"] == 200
    assert (await to_client.get())["body"] == b"retry: 3000\n\n"
    assert await get_broadcaster().subscriber_count("board") == 1

    await from_client.put({"type": "http.disconnect"})
    await asyncio.wait_for(task, timeout=5)
    assert await get_broadcaster().subscriber_count("board") == 0
