"""A form body that declares a charset other than UTF-8 is a 500 on plain Django.

``HttpRequest._load_post_and_files`` raises ``BadRequest`` for an
``application/x-www-form-urlencoded`` body whose Content-Type names another
charset, without marking the parse as failed (it does mark a multipart parse
error, and the exception handler marks ``RequestDataTooBig``). So every later
read of ``request.POST`` raises again: ``CsrfViewMiddleware``, then the CSRF
decorator of the 400 handler, then that of the 500 handler, and the exception
leaves Django. This module is its own URLconf, with no middleware but the CSRF check.
A client that sends the CSRF cookie, as every browser that has seen one of the
site's forms does, is the case that fails: without the cookie, the CSRF checks
refuse before they read the body.
"""

import asyncio
import io
import wsgiref.handlers
import wsgiref.util

import pytest
from django.core.exceptions import BadRequest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

CSRF = "django.middleware.csrf.CsrfViewMiddleware"
FIX = "sampleproject.board.formcharset.FormCharsetMiddleware"
SECRET = "a" * 32  # a well-formed CSRF cookie; its value does not matter here
FORM = "application/x-www-form-urlencoded"
BODY = f"name=Payments&csrfmiddlewaretoken={SECRET}".encode()
REFUSED_CHARSETS = ["latin-1", "utf8", "utf-16"]


def echo(request):
    return HttpResponse(request.POST.get("name", ""))


urlpatterns = [path("form/", echo)]


def plain_django(*middleware, debug=False):
    return override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=list(middleware), DEBUG=debug
    )


def wsgi_post(charset: str, *, cookie: bool = True) -> tuple[str, bytes]:
    """POST through Django's WSGI handler under a real WSGI server (wsgiref)."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/form/",
        "CONTENT_TYPE": f"{FORM}; charset={charset}",
        "CONTENT_LENGTH": str(len(BODY)),
    }
    if cookie:
        environ["HTTP_COOKIE"] = f"csrftoken={SECRET}"
    wsgiref.util.setup_testing_defaults(environ)
    out = io.BytesIO()
    server = wsgiref.handlers.SimpleHandler(
        io.BytesIO(BODY), out, io.StringIO(), environ
    )
    server.run(WSGIHandler())
    head, _, body = out.getvalue().partition(b"\r\n\r\n")
    return head.decode().splitlines()[0], body


async def asgi_post(charset: str) -> list[dict]:
    """POST through Django's ASGI handler; return what it sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/form/",
        "raw_path": b"/form/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", f"{FORM}; charset={charset}".encode()),
            (b"content-length", str(len(BODY)).encode()),
            (b"cookie", f"csrftoken={SECRET}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    sent = []
    incoming = asyncio.Queue()
    # The body, then nothing: the client waits for its answer.
    incoming.put_nowait({"type": "http.request", "body": BODY, "more_body": False})

    async def send(message):
        sent.append(message)

    await ASGIHandler()(scope, incoming.get, send)
    return sent


@pytest.fixture
def parses(monkeypatch):
    """Count the attempts to parse request.POST."""
    calls = []
    load = HttpRequest._load_post_and_files

    def counting(request):
        calls.append(request.path)
        return load(request)

    monkeypatch.setattr(HttpRequest, "_load_post_and_files", counting)
    return calls


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
def test_a_refused_charset_is_a_500_under_wsgi(parses, charset, debug):
    with plain_django(CSRF, debug=debug):
        status, body = wsgi_post(charset)
    # wsgiref's own error page: the exception got out of Django.
    assert status == "HTTP/1.0 500 Internal Server Error"
    assert body == b"A server error occurred.  Please contact the administrator."
    # The CSRF check raises; then each of the two layers that turn exceptions
    # into responses (around the view, around the middleware) tries the 400
    # handler and the 500 handler, and each of those raises again. With DEBUG
    # on, the technical 400 page, which lists request.POST, takes their place.
    assert parses == ["/form/"] * (3 if debug else 5)


@pytest.mark.asyncio
@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
async def test_a_refused_charset_escapes_the_asgi_handler(parses, charset):
    # An ASGI server answers an application that raises with a 500.
    with plain_django(CSRF), pytest.raises(BadRequest):
        await asgi_post(charset)
    assert parses == ["/form/"] * 5


def test_utf8_and_no_charset_are_read():
    with plain_django(CSRF):
        assert wsgi_post("utf-8") == ("HTTP/1.0 200 OK", b"Payments")
        assert wsgi_post("UTF-8") == ("HTTP/1.0 200 OK", b"Payments")


def test_the_error_handlers_alone_make_it_a_500(parses):
    # No middleware: the view raises, and the 400 and 500 handlers' own CSRF
    # decorators (requires_csrf_token) read request.POST again.
    with plain_django():
        status, _ = wsgi_post("latin-1")
    assert status == "HTTP/1.0 500 Internal Server Error"
    assert parses == ["/form/"] * 3


def test_without_the_csrf_cookie_it_is_a_400():
    # With no cookie the CSRF checks refuse before they read the body: the
    # view's read is the only one, and the 400 handler answers.
    with plain_django():
        status, _ = wsgi_post("latin-1", cookie=False)
    assert status == "HTTP/1.0 400 Bad Request"


@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
def test_the_boards_middleware_makes_it_a_400_under_wsgi(charset):
    with plain_django(FIX, CSRF):
        status, body = wsgi_post(charset)
    assert status == "HTTP/1.0 400 Bad Request"
    assert b"must be UTF-8 encoded" in body


@pytest.mark.asyncio
@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
async def test_the_boards_middleware_makes_it_a_400_under_asgi(charset):
    with plain_django(FIX, CSRF):
        sent = await asgi_post(charset)
    assert sent[0]["status"] == 400
    assert b"must be UTF-8 encoded" in sent[1]["body"]
