"""The fake upstream as a plain ASGI 3 application (standard library only).

Named services answer ``GET /svc/<name>`` as their :class:`Behaviour` says;
``/_control`` reads and changes behaviours while the app runs, and a few
stateless routes give a fault without any set-up. ``GET /`` lists the routes.
Python code changes behaviours through :attr:`UpstreamApp.behaviours`.
"""

from __future__ import annotations

import dataclasses
import http
import json
import re
from collections.abc import Awaitable, Callable

from sampleproject.upstream.behaviours import (
    Behaviour,
    BehaviourError,
    Behaviours,
    brief_repr,
    check_chunks,
    check_name,
    check_seconds,
    check_status,
)
from sampleproject.upstream.exchange import (
    BadRequest,
    Exchange,
    Receive,
    Scope,
    Send,
)

MAX_CONTROL_BODY = 64 * 1024
SLOW_CHUNKS = 5
SLOW_INTERVAL = 0.1

ROUTES_TEXT = """\
Fake upstream: named services whose behaviour you change while it runs.

GET    /svc/<name>              answer as <name>'s behaviour says
                                (default: 200 "ok <name>" at once)
GET    /svc/<name>?status=503&delay=0.5
                                the same, with this status and delay (in
                                seconds) for this one request
GET    /_control                the behaviours set and the hits counted
DELETE /_control                reset every name
GET    /_control/<name>         one name's behaviour and hits
PUT    /_control/<name>         set it, e.g. {"status": 503, "delay": 0.5,
                                "mode": "normal", "chunks": 5}
DELETE /_control/<name>         reset it to the default
GET    /status/<code>?delay=S   answer <code> after S seconds
GET    /hang                    never answer
GET    /slow?chunks=N&interval=S  N body chunks, S seconds apart
GET    /reset                   drop the connection (a TCP reset; uvicorn only)

Modes: normal, hang, reset (after delay), slow_body (chunks, delay apart).
"""

Handler = Callable[..., Awaitable[None]]


def service_text(name: str, status: int) -> str:
    return f"ok {name}" if status < 400 else f"error {status} {name}"


def status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:  # a code with no registered phrase, such as 599
        return str(status)


def seconds_param(params: dict[str, str], key: str, default: float) -> float:
    if key not in params:
        return default
    try:
        value = float(params[key])
    except ValueError:
        raise BadRequest(
            f"{key} must be a number of seconds, got {brief_repr(params[key])}"
        ) from None
    return check_seconds(value, key)


def status_code(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text):
        raise BadRequest(
            f"the status code must be a number such as 503, got {brief_repr(text)}"
        )
    return check_status(int(text))


def status_param(params: dict[str, str], default: int) -> int:
    if "status" not in params:
        return default
    return status_code(params["status"])


def chunks_param(params: dict[str, str], default: int) -> int:
    if "chunks" not in params:
        return default
    try:
        value = int(params["chunks"])
    except ValueError:
        shown = brief_repr(params["chunks"])
        raise BadRequest(f"chunks must be a whole number, got {shown}") from None
    return check_chunks(value)


async def serve_lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up or tear down; answering keeps servers from warning
    # that lifespan is unsupported.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class UpstreamApp:
    """The ASGI application. ``behaviours`` may be shared with the caller."""

    def __init__(self, behaviours: Behaviours | None = None) -> None:
        self.behaviours = behaviours if behaviours is not None else Behaviours()
        self._exchanges: set[Exchange] = set()
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"/"), {"GET": self._routes_index}),
            (re.compile(r"/svc/(?P<name>[^/]+)"), {"GET": self._service}),
            (
                re.compile(r"/_control"),
                {"GET": self._list_behaviours, "DELETE": self._reset_all},
            ),
            (
                re.compile(r"/_control/(?P<name>[^/]+)"),
                {
                    "GET": self._show_behaviour,
                    "PUT": self._put_behaviour,
                    "DELETE": self._reset_behaviour,
                },
            ),
            (re.compile(r"/status/(?P<code>[^/]+)"), {"GET": self._status}),
            (re.compile(r"/hang"), {"GET": self._hang}),
            (re.compile(r"/slow"), {"GET": self._slow}),
            (re.compile(r"/reset"), {"GET": self._reset}),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            exchange = Exchange(scope, receive, send)
            self._exchanges.add(exchange)
            try:
                await self._dispatch(exchange)
            finally:
                self._exchanges.discard(exchange)
        elif scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
        else:
            raise ValueError(
                f"the fake upstream speaks HTTP only, not {scope['type']!r}"
            )

    @property
    def in_flight(self) -> int:
        """How many requests are being handled now.

        Tests use it to prove that hung or abandoned requests ended with their
        clients.
        """
        return len(self._exchanges)

    def drop_connections(self) -> None:
        """Reset the connection of every request in flight (under uvicorn).

        A stopping server calls this so that hung requests end at once, as
        when a real upstream dies, not after uvicorn's shutdown grace period
        with a 500 and a logged error.
        """
        for exchange in list(self._exchanges):
            exchange.drop()

    def _route(self, path: str) -> tuple[dict[str, Handler], dict[str, str]] | None:
        """The handlers by method for ``path``, and the path's parameters."""
        for pattern, handlers in self._routes:
            if match := pattern.fullmatch(path):
                return handlers, match.groupdict()
        return None

    async def _dispatch(self, exchange: Exchange) -> None:
        route = self._route(exchange.path)
        if route is None:
            path = brief_repr(exchange.path)
            await exchange.fail(404, f"no route for {path}; GET / lists the routes")
            return
        handlers, path_params = route
        if "GET" in handlers:
            handlers = {"HEAD": handlers["GET"], **handlers}
        handler = handlers.get(exchange.method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            await exchange.fail(
                405,
                f"{exchange.method} is not allowed here; allowed: {allowed}",
                headers=[(b"allow", allowed.encode())],
            )
            return
        try:
            await handler(exchange, **path_params)
        except (BadRequest, BehaviourError) as error:
            await exchange.fail(400, str(error))

    async def _routes_index(self, exchange: Exchange) -> None:
        await exchange.respond(200, ROUTES_TEXT.encode())

    async def _service(self, exchange: Exchange, name: str) -> None:
        try:
            check_name(name)
        except BehaviourError as error:
            await exchange.fail(404, f"no such service: {error}")
            return
        # As in the tutorial's fakeupstream.py: the query overrides the stored
        # behaviour for this one request (the delay is in seconds here).
        params = exchange.query({"status", "delay"})
        behaviour = self.behaviours.get(name)
        behaviour = dataclasses.replace(
            behaviour,
            status=status_param(params, behaviour.status),
            delay=seconds_param(params, "delay", behaviour.delay),
        )
        self.behaviours.record_hit(name)
        text = service_text(name, behaviour.status)
        if behaviour.mode == "hang":
            await exchange.wait_for_disconnect()
        elif behaviour.mode == "slow_body":
            total = behaviour.chunks
            chunks = [f"{text} {i}/{total}\n".encode() for i in range(1, total + 1)]
            await exchange.stream(behaviour.status, chunks, behaviour.delay)
        elif await exchange.sleep(behaviour.delay):
            if behaviour.mode == "reset":
                await exchange.reset_connection()
            else:
                await exchange.respond(behaviour.status, text.encode())

    async def _describe(self, exchange: Exchange, name: str) -> None:
        behaviour = self.behaviours.get(name)
        hits = self.behaviours.hits(name)
        data = {"name": name, "behaviour": behaviour.as_dict(), "hits": hits}
        await exchange.respond_json(200, data)

    async def _list_behaviours(self, exchange: Exchange) -> None:
        await exchange.respond_json(200, self.behaviours.as_dict())

    async def _reset_all(self, exchange: Exchange) -> None:
        self.behaviours.reset()
        await exchange.respond_json(200, self.behaviours.as_dict())

    async def _show_behaviour(self, exchange: Exchange, name: str) -> None:
        await self._describe(exchange, check_name(name))

    async def _put_behaviour(self, exchange: Exchange, name: str) -> None:
        check_name(name)
        body = await exchange.read_body(MAX_CONTROL_BODY)
        if body is None:
            return
        if not body.strip():
            raise BadRequest(
                'the body is empty; send a JSON object such as {"status": 503}'
            )
        try:
            data = json.loads(body)
        except RecursionError:
            raise BadRequest("the body is nested too deeply") from None
        except ValueError as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None
        self.behaviours.put(name, Behaviour.from_json(data))
        await self._describe(exchange, name)

    async def _reset_behaviour(self, exchange: Exchange, name: str) -> None:
        self.behaviours.reset(check_name(name))
        await self._describe(exchange, name)

    async def _status(self, exchange: Exchange, code: str) -> None:
        params = exchange.query({"delay"})
        status = status_code(code)
        if await exchange.sleep(seconds_param(params, "delay", 0.0)):
            await exchange.respond(status, status_text(status).encode())

    async def _hang(self, exchange: Exchange) -> None:
        exchange.query(())
        await exchange.wait_for_disconnect()

    async def _slow(self, exchange: Exchange) -> None:
        params = exchange.query({"chunks", "interval"})
        total = chunks_param(params, SLOW_CHUNKS)
        interval = seconds_param(params, "interval", SLOW_INTERVAL)
        chunks = [f"chunk {i}/{total}\n".encode() for i in range(1, total + 1)]
        await exchange.stream(200, chunks, interval)

    async def _reset(self, exchange: Exchange) -> None:
        exchange.query(())
        await exchange.reset_connection()


def create_app(behaviours: Behaviours | None = None) -> UpstreamApp:
    """A fresh app; pass ``behaviours`` to share a registry you already hold."""
    return UpstreamApp(behaviours)


# For ``uvicorn sampleproject.upstream.app:app`` and the like.
app = create_app()
