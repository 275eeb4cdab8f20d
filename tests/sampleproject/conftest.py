"""Fixtures for the sample project's tests: the fake upstream and services on it."""

import socket
from datetime import timedelta

import pytest
from django.core.cache import cache

from sampleproject.board.models import Service
from sampleproject.upstream import UpstreamThread


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The dashboard caches its tiles: one test's board must not leak into the next.
    cache.clear()


@pytest.fixture(scope="session")
def upstream_server():
    with UpstreamThread() as upstream:
        yield upstream


@pytest.fixture
def upstream(upstream_server):
    """The fake upstream, with every behaviour back to "200 at once" after the test."""
    yield upstream_server
    upstream_server.behaviours.reset()


@pytest.fixture
def closed_port_url():
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def service_on(upstream, slug: str, **fields) -> Service:
    """An unsaved Service that checks ``slug`` on the fake upstream."""
    fields.setdefault("timeout", 2.0)
    return Service(
        name=fields.pop("name", slug.title()),
        slug=slug,
        url=fields.pop("url", upstream.service_url(slug)),
        interval=timedelta(seconds=60),
        **fields,
    )
