import asyncio
import io
import os

import django


def bench_setup():
    """Configure Django once per process, as django-asv's ``bench_setup`` does."""
    try:
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        django.setup()
    except RuntimeError:
        pass


# Requests the way a server makes them: through the handler's __call__, with a
# hand-made WSGI environ or ASGI scope. The test client and the request
# factories would skip the parts of the handler this suite exists to measure.

REQUESTS_PER_CALL = 5  # as django-asv's request benchmarks make five per call


class WsgiRequests:
    def __init__(self, handler, path):
        self.handler = handler
        self.environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        self.statuses = []

    def start_response(self, status, headers, exc_info=None):
        self.statuses.append(status)

    def one(self):
        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["wsgi.errors"] = io.StringIO()
        response = self.handler(environ, self.start_response)
        body = b"".join(response)
        response.close()
        return body

    def run(self):
        for _ in range(REQUESTS_PER_CALL):
            self.one()

    def check(self):
        """Fail setup, not timing, when the path does not answer 200."""
        body = self.one()
        if self.statuses[-1] != "200 OK":
            raise RuntimeError(f"{self.environ['PATH_INFO']}: {self.statuses[-1]}")
        return body

    def close(self):
        pass


class AsgiRequests:
    def __init__(self, handler, path):
        self.handler = handler
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
        }
        self.loop = asyncio.new_event_loop()
        self.sent = []

    async def send(self, message):
        self.sent.append(message)

    async def one(self):
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            # Django (5.0+) listens for a disconnect while the view runs and
            # cancels the listener once the response is sent.
            await asyncio.get_running_loop().create_future()

        self.sent.clear()
        await self.handler(dict(self.scope), receive, self.send)

    async def many(self):
        for _ in range(REQUESTS_PER_CALL):
            await self.one()

    def run(self):
        self.loop.run_until_complete(self.many())

    def check(self):
        self.loop.run_until_complete(self.one())
        status = self.sent[0].get("status")
        if status != 200:
            raise RuntimeError(f"{self.scope['path']}: {status}")
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def close(self):
        self.loop.close()


def requests_for(handler, path):
    """Requests to ``path`` through a new WSGIHandler or ASGIHandler."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    if handler == "wsgi":
        return WsgiRequests(WSGIHandler(), path)
    return AsgiRequests(ASGIHandler(), path)
