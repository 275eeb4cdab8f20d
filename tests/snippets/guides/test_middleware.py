"""Tests of snippets/guides/middleware.py, shown on docs/guides/middleware.md."""

import asyncio
import gc
import logging
from unittest import mock

import pytest
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.middleware import BOARD_VERSION
from snippets.guides.middleware import (
    UnmarkedMiddleware,
    audit_middleware,
    board_version_middleware,
    hops_per_request,
)
from snippets.internals.async_middleware import (
    ASYNC_NATIVE_MIDDLEWARE,
    STARTPROJECT_MIDDLEWARE,
)

HERE = "snippets.guides.middleware"
SYNC_ONLY = "sampleproject.board.middleware.BoardVersionMiddleware"
BOTH_MODES = f"{HERE}.board_version_middleware"
# One per process_request and process_response hook, and CsrfViewMiddleware's
# process_view, which the handler adapts (tests/internals/test_middleware_hops.py).
STARTPROJECT_HOPS = {
    "django.middleware.security.SecurityMiddleware": 2,
    "django.contrib.sessions.middleware.SessionMiddleware": 2,
    "django.middleware.common.CommonMiddleware": 2,
    "django.middleware.csrf.CsrfViewMiddleware": 3,
    "django.contrib.auth.middleware.AuthenticationMiddleware": 1,
    "django.contrib.messages.middleware.MessageMiddleware": 2,
    "django.middleware.clickjacking.XFrameOptionsMiddleware": 1,
}


def audited(entries):
    return {entry.path: (entry.mode, entry.hops) for entry in entries}


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
@pytest.mark.asyncio
async def test_the_function_middleware_answers_under_wsgi_and_asgi(client_class):
    with override_settings(MIDDLEWARE=[BOTH_MODES], ROOT_URLCONF=HERE):
        client = client_class()
        if client_class is Client:
            from asgiref.sync import sync_to_async

            response = await sync_to_async(client.get)("/ping/")
        else:
            response = await client.get("/ping/")
    assert response.headers["X-Board-Version"] == BOARD_VERSION


def test_the_function_middleware_takes_the_mode_of_the_layer_below():
    async def async_view(request): ...

    def sync_view(request): ...

    assert iscoroutinefunction(board_version_middleware(async_view))
    assert not iscoroutinefunction(board_version_middleware(sync_view))
    assert board_version_middleware.sync_capable
    assert board_version_middleware.async_capable


@pytest.mark.asyncio
async def test_audit_of_startproject_counts_a_hop_per_mixin_hook():
    entries = await audit_middleware(STARTPROJECT_MIDDLEWARE)
    assert audited(entries) == {
        dotted: ("both, MiddlewareMixin", hops)
        for dotted, hops in STARTPROJECT_HOPS.items()
    }
    assert sum(entry.hops for entry in entries) == 13


@pytest.mark.asyncio
async def test_audit_of_async_native_versions_counts_no_hop():
    entries = await audit_middleware(ASYNC_NATIVE_MIDDLEWARE)
    assert {(entry.mode, entry.hops) for entry in entries} == {("both", 0)}


@pytest.mark.asyncio
async def test_audit_of_the_sample_project():
    entries = audited(await audit_middleware(settings.MIDDLEWARE))
    assert entries == {
        "sampleproject.board.middleware.ServerTimingMiddleware": ("both", 0),
        "sampleproject.board.formcharset.FormCharsetMiddleware": ("both", 0),
    } | {
        dotted: ("both, MiddlewareMixin", hops)
        for dotted, hops in STARTPROJECT_HOPS.items()
    }


@pytest.mark.asyncio
async def test_a_sync_only_middleware_adds_two_hops_and_its_replacement_none():
    first, *rest = settings.MIDDLEWARE
    sync_only = audited(await audit_middleware([first, SYNC_ONLY, *rest]))
    both = audited(await audit_middleware([first, BOTH_MODES, *rest]))
    # sync_to_async into it, async_to_sync back out to the layers below.
    assert sync_only[SYNC_ONLY] == ("sync only", 2)
    assert both[BOTH_MODES] == ("both", 0)


@pytest.mark.asyncio
async def test_a_sync_only_middleware_last_turns_the_whole_chain_sync():
    # Every layer above a sync-only one runs sync: the mixin hooks stop hopping.
    everything = await hops_per_request(settings.MIDDLEWARE)
    last = await hops_per_request([*settings.MIDDLEWARE, SYNC_ONLY])
    assert (everything, last) == (15, 5)


# Sync, with asyncio.run: the unawaited coroutine's warning reads source files.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
def test_an_unmarked_class_middleware_hands_a_coroutine_to_the_layer_above():
    # A log record of the error would keep the coroutine alive past the test.
    quiet = mock.patch.object(logging.getLogger("django.request"), "disabled", True)
    with (
        quiet,
        override_settings(
            MIDDLEWARE=[BOTH_MODES, f"{HERE}.UnmarkedMiddleware"], ROOT_URLCONF=HERE
        ),
    ):
        # The layer above ran sync, got a coroutine, failed on .headers, and
        # its exception wrapper made a 500 where the handler awaits.
        message = "^object HttpResponseServerError can't be used in 'await'"
        with pytest.raises(TypeError, match=message) as raised:
            asyncio.run(AsyncClient().get("/ping/"))
    # Drop the coroutine while its warning is still filtered.
    del raised
    gc.collect()
    assert not iscoroutinefunction(UnmarkedMiddleware(board_version_middleware))
