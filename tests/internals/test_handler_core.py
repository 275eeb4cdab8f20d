"""The handler core: how load_middleware builds the chain, and who runs where.

Proves the claims of docs/internals/handler-core.md. Handlers are built and
called directly (ASGIHandler, WSGIHandler), not through the test clients, so the
threads seen are the ones a real server gives. tests/sampleproject/
test_middleware.py covers the sample project's middleware through the clients.

This module is also the URLconf of most tests here (ROOT_URLCONF=__name__).
"""

import asyncio
import logging
import threading

import pytest
from asgiref.sync import (
    AsyncToSync,
    SyncToAsync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import path
from django.utils.deprecation import MiddlewareMixin

from snippets.internals.handler_core import (
    AsyncOnlyMiddleware,
    SyncOnlyMiddleware,
    chain_layers,
    is_exception_wrapper,
    walk_chain,
)
from tests.support.asgi import StreamingGet

HERE = __name__
SNIPPETS = "snippets.internals.handler_core"
SYNC_ONLY = f"{SNIPPETS}.SyncOnlyMiddleware"
ASYNC_ONLY = f"{SNIPPETS}.AsyncOnlyMiddleware"
DUAL = f"{SNIPPETS}.dual_mode_middleware"
RELEASE = f"{SNIPPETS}.ReleaseHeaderMiddleware"
BOARD_VERSION = "sampleproject.board.middleware.BoardVersionMiddleware"
SERVER_TIMING = "sampleproject.board.middleware.ServerTimingMiddleware"

# The sample project's MIDDLEWARE, and the same with its sync-only middleware
# second, as the page's diagram draws them.
PROJECT = list(settings.MIDDLEWARE)
PROJECT_PLUS_SYNC_ONLY = [PROJECT[0], BOARD_VERSION, *PROJECT[1:]]
PROJECT_ON_ASGI = [
    "ServerTimingMiddleware (async)",
    "SecurityMiddleware (async)",
    "SessionMiddleware (async)",
    "CommonMiddleware (async)",
    "FormCharsetMiddleware (async)",
    "CsrfViewMiddleware (async)",
    "AuthenticationMiddleware (async)",
    "MessageMiddleware (async)",
    "XFrameOptionsMiddleware (async)",
    "BaseHandler._get_response_async",
]


# Where each part of the request under test ran: name -> thread id.
seen: dict[str, int] = {}
# Every event loop an async view ran in, kept alive so that none is mistaken
# for another that reused its memory.
loops: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def _fresh_records():
    seen.clear()
    loops.clear()
    barrier.reset()


def note(name: str) -> None:
    seen[name] = threading.get_ident()


# The views and the URLconf.


def sync_view(request):
    note("view")
    return HttpResponse("sync")


async def async_view(request):
    note("view")
    loops.append(asyncio.get_running_loop())
    # thread_sensitive=True, the default: the request's one sync thread.
    seen["view's sync_to_async"] = await sync_to_async(threading.get_ident)()
    return HttpResponse("async")


def failing_sync_view(request):
    note("view")
    raise ValueError("the view failed")


async def failing_async_view(request):
    note("view")
    raise ValueError("the view failed")


barrier = threading.Barrier(2)


def meeting_view(request):
    """Returns only once two requests are in this view at the same time."""
    barrier.wait(timeout=2)
    return HttpResponse(str(threading.get_ident()))


def pausing_view(request):
    threading.Event().wait(0.05)
    return HttpResponse(str(threading.get_ident()))


def server_error(request):
    note("handler500")
    return HttpResponse("board error", status=500)


urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("failing-sync/", failing_sync_view),
    path("failing-async/", failing_async_view),
    path("meeting/", meeting_view),
    path("pausing/", pausing_view),
]
handler500 = f"{HERE}.server_error"
here = override_settings(ROOT_URLCONF=HERE)


# Middleware that note where they run.


class NotingSyncOnly(SyncOnlyMiddleware):
    def __call__(self, request):
        note("sync-only middleware")
        return super().__call__(request)


class NotingAsyncOnly(AsyncOnlyMiddleware):
    async def __call__(self, request):
        note("async-only middleware")
        loops.append(asyncio.get_running_loop())
        return await super().__call__(request)


class NotingMixin(MiddlewareMixin):
    """Async-capable, as Django's own middleware: process_request is sync."""

    def process_request(self, request):
        note("process_request")

    def process_response(self, request, response):
        note("process_response")
        return response


class NotingASGIHandler(ASGIHandler):
    async def _get_response_async(self, request):
        note("_get_response_async")
        return await super()._get_response_async(request)


class Raising:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        markcoroutinefunction(self)

    async def __call__(self, request):
        raise ValueError("the middleware failed")


class NoFlags:
    sync_capable = False
    async_capable = False

    def __init__(self, get_response): ...


class Hooks(MiddlewareMixin):
    def process_view(self, request, view, args, kwargs):
        return None

    def process_exception(self, request, exception):
        note("process_exception")


# Helpers.


async def asgi_get(path_: str, handler=None):
    """GET through an ASGIHandler, as an ASGI server would call it."""
    async with StreamingGet(handler or ASGIHandler(), path_) as get:
        await get.read_to_end()
    return get


def wsgi_get(path_: str) -> tuple[HttpResponse, bytes]:
    """GET through a WSGIHandler, in this thread, as a WSGI server would."""
    environ = RequestFactory().get(path_).environ
    response = WSGIHandler()(environ, lambda status, headers: None)
    body = b"".join(response)
    response.close()
    return response, body


def adaptations(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "django.request"
        and record.levelno == logging.DEBUG
        and "adapted" in record.getMessage()
    ]


def adapters(handler) -> list[str]:
    return [
        layer
        for layer in chain_layers(handler)
        if layer in {"sync_to_async", "async_to_sync"}
    ]


# Two handlers, one chain.


def test_each_handler_builds_its_chain_when_created():
    asgi, wsgi = ASGIHandler(), WSGIHandler()
    assert iscoroutinefunction(asgi._middleware_chain)
    assert not iscoroutinefunction(wsgi._middleware_chain)
    assert chain_layers(wsgi)[-1] == "BaseHandler._get_response"
    assert chain_layers(asgi)[-1] == "BaseHandler._get_response_async"


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[])
async def test_test_clients_build_the_chain_on_their_first_request():
    client, async_client = Client(), AsyncClient()
    assert client.handler._middleware_chain is None
    assert async_client.handler._middleware_chain is None
    await sync_to_async(client.get)("/sync/")
    await async_client.get("/sync/")
    assert chain_layers(client.handler) == ["BaseHandler._get_response"]
    assert chain_layers(async_client.handler) == ["BaseHandler._get_response_async"]


@override_settings(MIDDLEWARE=PROJECT)
def test_first_in_middleware_is_outermost():
    assert chain_layers(ASGIHandler()) == PROJECT_ON_ASGI


@override_settings(MIDDLEWARE=PROJECT)
def test_every_layer_is_wrapped_in_convert_exception_to_response():
    kinds = [
        "wrapper" if is_exception_wrapper(layer) else "layer"
        for layer in walk_chain(ASGIHandler())
    ]
    # Below each wrapper, a middleware; at the bottom, _get_response_async.
    assert kinds == ["wrapper", "layer"] * (len(PROJECT) + 1)


# The modes, the adapters, and the debug log.


ADAPTED_SYNC = "Synchronous handler adapted for middleware {}."
ADAPTED_ASYNC = "Asynchronous handler adapted for middleware {}."

CHAINS = [
    pytest.param(True, PROJECT, PROJECT_ON_ASGI, [], id="asgi-project"),
    pytest.param(
        True,
        PROJECT_PLUS_SYNC_ONLY,
        [
            "sync_to_async",
            "ServerTimingMiddleware (sync)",
            "BoardVersionMiddleware (sync)",
            "async_to_sync",
            *PROJECT_ON_ASGI[1:],
        ],
        [ADAPTED_ASYNC.format(BOARD_VERSION)],
        id="asgi-project-plus-sync-only",
    ),
    pytest.param(
        True,
        [BOARD_VERSION, DUAL, SYNC_ONLY],
        [
            "sync_to_async",
            "BoardVersionMiddleware (sync)",
            "dual_mode_middleware (sync)",
            "SyncOnlyMiddleware (sync)",
            "async_to_sync",
            "BaseHandler._get_response_async",
        ],
        [ADAPTED_ASYNC.format(SYNC_ONLY)],
        id="asgi-two-sync-only-one-pair",
    ),
    pytest.param(
        True,
        [ASYNC_ONLY, SYNC_ONLY],
        [
            "AsyncOnlyMiddleware (async)",
            "sync_to_async",
            "SyncOnlyMiddleware (sync)",
            "async_to_sync",
            "BaseHandler._get_response_async",
        ],
        [ADAPTED_ASYNC.format(SYNC_ONLY), ADAPTED_SYNC.format(ASYNC_ONLY)],
        id="asgi-async-only-above-sync-only",
    ),
    pytest.param(
        True,
        [BOARD_VERSION, ASYNC_ONLY, SYNC_ONLY],
        [
            "sync_to_async",
            "BoardVersionMiddleware (sync)",
            "async_to_sync",
            "AsyncOnlyMiddleware (async)",
            "sync_to_async",
            "SyncOnlyMiddleware (sync)",
            "async_to_sync",
            "BaseHandler._get_response_async",
        ],
        [
            ADAPTED_ASYNC.format(SYNC_ONLY),
            ADAPTED_SYNC.format(ASYNC_ONLY),
            ADAPTED_ASYNC.format(BOARD_VERSION),
        ],
        id="asgi-two-pairs",
    ),
    pytest.param(
        False,
        PROJECT_PLUS_SYNC_ONLY,
        [
            "ServerTimingMiddleware (sync)",
            "BoardVersionMiddleware (sync)",
            *(layer.replace("(async)", "(sync)") for layer in PROJECT_ON_ASGI[1:-1]),
            "BaseHandler._get_response",
        ],
        [],
        id="wsgi-project-plus-sync-only",
    ),
    pytest.param(
        False,
        [DUAL, ASYNC_ONLY, DUAL],
        [
            "async_to_sync",
            "dual_mode_middleware (async)",
            "AsyncOnlyMiddleware (async)",
            "sync_to_async",
            "dual_mode_middleware (sync)",
            "BaseHandler._get_response",
        ],
        [ADAPTED_SYNC.format(ASYNC_ONLY)],
        id="wsgi-async-only",
    ),
]


@pytest.mark.parametrize(("is_async", "middleware", "layers", "logged"), CHAINS)
def test_adapters_and_log_lines(caplog, is_async, middleware, layers, logged):
    caplog.set_level(logging.DEBUG, logger="django.request")
    with override_settings(DEBUG=True, MIDDLEWARE=middleware):
        handler = BaseHandler()
        handler.load_middleware(is_async=is_async)
    assert chain_layers(handler) == layers
    # One line per middleware that needed an adapter below it; the one at the
    # top of the chain is never logged.
    assert adaptations(caplog) == logged


def test_the_log_needs_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="django.request")
    with override_settings(DEBUG=False, MIDDLEWARE=PROJECT_PLUS_SYNC_ONLY):
        handler = ASGIHandler()
    assert adapters(handler) == ["sync_to_async", "async_to_sync"]
    assert adaptations(caplog) == []


@pytest.mark.asyncio
@here
@pytest.mark.parametrize("count", [1, 10])
async def test_a_run_of_sync_only_middleware_costs_one_pair_of_hops(monkeypatch, count):
    with override_settings(MIDDLEWARE=[SYNC_ONLY] * count):
        handler = ASGIHandler()
    assert adapters(handler) == ["sync_to_async", "async_to_sync"]
    hops = []
    sync_to_async_call, async_to_sync_call = SyncToAsync.__call__, AsyncToSync.__call__

    async def counting_sync_to_async(self, *args, **kwargs):
        hops.append("sync_to_async")
        return await sync_to_async_call(self, *args, **kwargs)

    def counting_async_to_sync(self, *args, **kwargs):
        hops.append("async_to_sync")
        return async_to_sync_call(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting_sync_to_async)
    monkeypatch.setattr(AsyncToSync, "__call__", counting_async_to_sync)
    get = await asgi_get("/async/", handler)
    assert get.body == "async"
    # One adapter pair into the run and back out, whatever its length; the
    # other sync_to_async calls are the request signals', the response's close
    # and the view's own.
    assert hops.count("async_to_sync") == 1
    assert hops.count("sync_to_async") == 4


@override_settings(MIDDLEWARE=[SYNC_ONLY])
def test_middleware_that_sets_neither_flag_is_sync_only():
    # Neither attribute exists: load_middleware's defaults apply.
    assert not hasattr(SyncOnlyMiddleware, "sync_capable")
    assert not hasattr(SyncOnlyMiddleware, "async_capable")
    assert chain_layers(ASGIHandler()) == [
        "sync_to_async",
        "SyncOnlyMiddleware (sync)",
        "async_to_sync",
        "BaseHandler._get_response_async",
    ]
    assert chain_layers(WSGIHandler()) == [
        "SyncOnlyMiddleware (sync)",
        "BaseHandler._get_response",
    ]


@override_settings(MIDDLEWARE=[f"{HERE}.NoFlags"])
def test_middleware_with_both_flags_false_is_refused():
    with pytest.raises(RuntimeError, match="at least one of"):
        ASGIHandler()


# The hooks: adapted one by one, and not logged.


@override_settings(MIDDLEWARE=PROJECT)
def test_csrf_process_view_is_adapted_on_the_async_path():
    (asgi_hook,) = ASGIHandler()._view_middleware
    (wsgi_hook,) = WSGIHandler()._view_middleware
    assert isinstance(asgi_hook, SyncToAsync)
    assert asgi_hook.func.__qualname__ == "CsrfViewMiddleware.process_view"
    assert not isinstance(wsgi_hook, SyncToAsync | AsyncToSync)


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[f"{HERE}.Hooks"])
async def test_process_exception_stays_sync_on_the_async_path():
    handler = ASGIHandler()
    (view_hook,) = handler._view_middleware
    (exception_hook,) = handler._exception_middleware
    assert isinstance(view_hook, SyncToAsync)
    assert not isinstance(exception_hook, SyncToAsync | AsyncToSync)
    assert exception_hook.__func__ is Hooks.process_exception
    # An async view fails on the loop; the hook is called off it.
    get = await asgi_get("/failing-async/", handler)
    assert get.status == 500
    assert seen["view"] == threading.get_ident()
    assert seen["process_exception"] != threading.get_ident()


# MiddlewareNotUsed.


def test_middleware_not_used_leaves_no_adapter(caplog):
    caplog.set_level(logging.DEBUG, logger="django.request")
    with override_settings(DEBUG=True, MIDDLEWARE=[SERVER_TIMING, RELEASE]):
        handler = ASGIHandler()
    assert chain_layers(handler) == [
        "ServerTimingMiddleware (async)",
        "BaseHandler._get_response_async",
    ]
    # The adapter is logged before the middleware refuses, then thrown away.
    assert [r.getMessage() for r in caplog.records] == [
        ADAPTED_ASYNC.format(RELEASE),
        f"MiddlewareNotUsed('{RELEASE}'): BOARD_RELEASE is not set",
    ]


@pytest.mark.asyncio
@here
@override_settings(BOARD_RELEASE="2026.1", MIDDLEWARE=[SERVER_TIMING, RELEASE])
async def test_middleware_used_when_it_has_work():
    handler = ASGIHandler()
    assert adapters(handler) == ["sync_to_async", "async_to_sync"]
    get = await asgi_get("/async/", handler)
    assert get.headers["x-board-release"] == "2026.1"


# Calling the view on the async path.


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[])
async def test_async_view_under_asgi_runs_on_the_loop():
    get = await asgi_get("/async/")
    assert get.body == "async"
    assert seen["view"] == threading.get_ident()
    assert seen["view's sync_to_async"] != threading.get_ident()


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[])
async def test_sync_view_under_asgi_runs_in_a_thread():
    get = await asgi_get("/sync/")
    assert get.body == "sync"
    assert seen["view"] != threading.get_ident()


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[f"{HERE}.NotingMixin"])
async def test_one_sync_thread_per_request():
    # Outside any ThreadSensitiveContext, thread-sensitive calls go to asgiref's
    # one process-wide thread: the thread a request must not be using.
    process_wide = await asyncio.wrap_future(
        SyncToAsync.single_thread_executor.submit(threading.get_ident)
    )
    await asgi_get("/async/")
    loop_thread = threading.get_ident()
    # MiddlewareMixin runs process_request and process_response through
    # sync_to_async, in the same thread as the view's thread-sensitive call...
    request_thread = seen["process_request"]
    assert request_thread != loop_thread
    assert seen["process_response"] == request_thread
    assert seen["view's sync_to_async"] == request_thread
    assert seen["view"] == loop_thread
    # ...a thread of this request's own, not the process-wide one, and gone
    # once the request's ThreadSensitiveContext has exited.
    assert request_thread != process_wide
    assert request_thread not in {thread.ident for thread in threading.enumerate()}


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[f"{HERE}.NotingSyncOnly"])
async def test_sync_only_middleware_and_sync_view_cross_three_times():
    handler = NotingASGIHandler()
    assert chain_layers(handler) == [
        "sync_to_async",
        "NotingSyncOnly (sync)",
        "async_to_sync",
        "NotingASGIHandler._get_response_async",
    ]
    get = await asgi_get("/sync/", handler)
    assert get.headers["x-sync-only"] == "1"
    loop_thread = threading.get_ident()
    # Thread, loop, thread: _get_response_async runs on the loop between.
    assert seen["sync-only middleware"] != loop_thread
    assert seen["_get_response_async"] == loop_thread
    # The middleware and the view run in the one thread.
    assert seen["view"] == seen["sync-only middleware"]


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[])
async def test_concurrent_requests_get_a_thread_each_under_asgi_handler():
    # If the two sync views shared a thread, the first would wait for the
    # second at the barrier while holding the thread: timeout, two 500s.
    first, second = await asyncio.gather(asgi_get("/meeting/"), asgi_get("/meeting/"))
    assert (first.status, second.status) == (200, 200)
    assert first.body != second.body


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[])
async def test_async_client_runs_every_sync_view_in_one_thread():
    client = AsyncClient()
    first, second = await asyncio.gather(
        client.get("/pausing/"), client.get("/pausing/")
    )
    assert first.content == second.content


# Calling the view on the sync path.


@here
@override_settings(MIDDLEWARE=[])
def test_async_view_under_wsgi_gets_a_new_loop_per_request():
    wsgi_get("/async/")
    first = dict(seen)
    wsgi_get("/async/")
    assert len(loops) == 2
    assert loops[0] is not loops[1]
    assert all(loop.is_closed() for loop in loops)
    # The loop runs in a thread of its own; sync_to_async comes back here.
    assert first["view"] != threading.get_ident()
    assert first["view's sync_to_async"] == threading.get_ident()


@here
@override_settings(MIDDLEWARE=[f"{HERE}.NotingAsyncOnly", f"{HERE}.NotingMixin"])
def test_async_only_middleware_under_wsgi_costs_a_loop_per_request():
    assert chain_layers(WSGIHandler())[:3] == [
        "async_to_sync",
        "NotingAsyncOnly (async)",
        "sync_to_async",
    ]
    response, body = wsgi_get("/sync/")
    assert (body, response.headers["X-Async-Only"]) == (b"sync", "1")
    # The async middleware: in a loop of its own, in another thread...
    assert seen["async-only middleware"] != threading.get_ident()
    # ...the sync code below it: back in this thread.
    assert seen["process_request"] == threading.get_ident()
    assert seen["view"] == threading.get_ident()
    wsgi_get("/sync/")
    assert loops[0] is not loops[1]
    assert all(loop.is_closed() for loop in loops)


# convert_exception_to_response.


def test_the_wrapper_follows_the_mode():
    def sync_get_response(request): ...

    async def async_get_response(request): ...

    assert not iscoroutinefunction(convert_exception_to_response(sync_get_response))
    assert iscoroutinefunction(convert_exception_to_response(async_get_response))


def test_a_class_based_middleware_must_mark_itself():
    async def async_get_response(request): ...

    def sync_get_response(request): ...

    marked = AsyncOnlyMiddleware(async_get_response)
    # Django never hands it a sync get_response: here it skips the mark.
    unmarked = AsyncOnlyMiddleware(sync_get_response)
    assert iscoroutinefunction(AsyncOnlyMiddleware.__call__)
    assert iscoroutinefunction(convert_exception_to_response(marked))
    assert not iscoroutinefunction(convert_exception_to_response(unmarked))


class Unmarked:
    async def __call__(self, request):
        raise ValueError("the middleware failed")


@pytest.mark.asyncio
@here
async def test_an_unmarked_middleware_escapes_its_wrapper():
    request = RequestFactory().get("/sync/")
    unmarked = convert_exception_to_response(Unmarked())
    coroutine = unmarked(request)  # the wrapper's try block ends here
    with pytest.raises(ValueError, match="the middleware failed"):
        await coroutine
    marked = convert_exception_to_response(markcoroutinefunction(Unmarked()))
    response = await marked(request)
    assert response.status_code == 500


@pytest.mark.parametrize("view", ["failing-sync", "failing-async"])
@here
@override_settings(MIDDLEWARE=[DUAL])
def test_view_exception_is_a_response_below_the_middleware_under_wsgi(view):
    response, body = wsgi_get(f"/{view}/")
    # The middleware got a response and added its header: no exception
    # went through it.
    assert (response.status_code, body) == (500, b"board error")
    assert response.headers["X-Dual-Mode"] == "sync"


@pytest.mark.asyncio
@pytest.mark.parametrize("view", ["failing-sync", "failing-async"])
@here
@override_settings(MIDDLEWARE=[DUAL])
async def test_view_exception_is_a_response_below_the_middleware_under_asgi(view):
    get = await asgi_get(f"/{view}/")
    assert (get.status, get.body) == (500, "board error")
    assert get.headers["x-dual-mode"] == "async"
    # response_for_exception runs with thread_sensitive=False: neither on the
    # loop nor in the thread of a sync view.
    assert seen["handler500"] != threading.get_ident()
    assert seen["handler500"] != seen["view"]


@pytest.mark.asyncio
@here
@override_settings(MIDDLEWARE=[DUAL, f"{HERE}.Raising"])
async def test_middleware_exception_is_a_response_for_the_layer_above():
    get = await asgi_get("/sync/")
    assert (get.status, get.body) == (500, "board error")
    assert get.headers["x-dual-mode"] == "async"
    assert "view" not in seen


def test_every_middleware_django_ships_is_async_capable():
    import importlib
    import inspect
    from pathlib import Path

    import django
    from django.utils.deprecation import MiddlewareMixin

    package = Path(django.__file__).parent
    found = []
    sources = [
        *package.glob("middleware/*.py"),
        *package.glob("contrib/*/middleware.py"),
    ]
    for source in sorted(sources):
        name = "django." + ".".join(source.relative_to(package).with_suffix("").parts)
        try:
            module = importlib.import_module(name)
        except RuntimeError:
            continue  # needs an app the sample project does not install (sites)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, MiddlewareMixin):
                found.append(cls)
    names = {cls.__name__ for cls in found}
    assert {"SecurityMiddleware", "CsrfViewMiddleware", "SessionMiddleware"} <= names
    assert [cls for cls in found if not cls.async_capable] == []
