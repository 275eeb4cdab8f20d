"""Async-native versions of the seven middleware that ``startproject`` writes.

Django's own middleware is built on ``MiddlewareMixin``. Under ASGI its
``__acall__`` sends every ``process_request`` and ``process_response`` to a
thread with ``sync_to_async``, although most of those hooks only read headers
and set attributes. The classes below keep each Django class's sync path as it
is and give it an async path that runs the hooks on the event loop. Where a
hook does database or cache I/O (the session save, a session read), they use
the async API Django has for it (``SessionBase.asave()``, ``aget()``, ...).

:func:`snippets.internals.hops.count_hops` counts the adapter calls a request
makes; the tests and the benchmark use it to show that these make none.
"""

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CSRF_SESSION_KEY, CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

# startproject's MIDDLEWARE, and the same list with the classes below.
STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ASYNC_NATIVE_MIDDLEWARE = [
    f"{__name__}.AsyncSecurityMiddleware",
    f"{__name__}.AsyncSessionMiddleware",
    f"{__name__}.AsyncCommonMiddleware",
    f"{__name__}.AsyncCsrfViewMiddleware",
    f"{__name__}.AsyncAuthenticationMiddleware",
    f"{__name__}.AsyncMessageMiddleware",
    f"{__name__}.AsyncXFrameOptionsMiddleware",
]


# start-mixin
class OnTheLoopMixin:
    """Run a Django middleware's hooks on the event loop under ASGI.

    ``checked_hooks`` names the hooks of the Django class that do no blocking
    I/O (or that the subclass replaces with an ``a``-prefixed async version).
    A project subclass that overrides one of them may block, so that hook goes
    back to a thread, as ``MiddlewareMixin`` would send it.
    """

    sync_capable = True
    async_capable = True
    checked_hooks: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "checked_hooks" in cls.__dict__:
            cls._checked = {name: getattr(cls, name) for name in cls.checked_hooks}

    def checked(self, name):
        return getattr(type(self), name) is self._checked.get(name)

    async def call_hook(self, name, *args):
        # From the class: CsrfViewMiddleware sets its instance's process_view.
        hook = getattr(type(self), name).__get__(self)
        if self.checked(name):
            return hook(*args)
        return await sync_to_async(hook, thread_sensitive=True)(*args)

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = await self.aprocess_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.aprocess_response(request, response)
        return response

    async def aprocess_request(self, request):
        return await self.call_hook("process_request", request)

    async def aprocess_response(self, request, response):
        return await self.call_hook("process_response", request, response)


# end-mixin


# Headers and redirects only.
class AsyncSecurityMiddleware(OnTheLoopMixin, SecurityMiddleware):
    checked_hooks = ("process_request", "process_response")


# Host, user agent and URL checks, a redirect, a Content-Length header.
class AsyncCommonMiddleware(OnTheLoopMixin, CommonMiddleware):
    checked_hooks = ("process_request", "process_response")


# One header.
class AsyncXFrameOptionsMiddleware(OnTheLoopMixin, XFrameOptionsMiddleware):
    checked_hooks = ("process_response",)


# Sets request.user and request.auser, both lazy: no query until used.
class AsyncAuthenticationMiddleware(OnTheLoopMixin, AuthenticationMiddleware):
    checked_hooks = ("process_request",)


# start-session
class AsyncSessionMiddleware(OnTheLoopMixin, SessionMiddleware):
    """SessionMiddleware.process_response with the session's async API."""

    # process_request builds a SessionStore, which reads nothing yet.
    checked_hooks = ("process_request", "process_response")

    async def aprocess_response(self, request, response):
        if not self.checked("process_response"):
            return await super().aprocess_response(request, response)
        try:
            session = request.session
            accessed, modified, empty = (
                session.accessed,
                session.modified,
                session.is_empty(),
            )
        except AttributeError:
            return response
        if settings.SESSION_COOKIE_NAME in request.COOKIES and empty:
            response.delete_cookie(
                settings.SESSION_COOKIE_NAME,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            need_vary_cookie = True
        else:
            need_vary_cookie = accessed
            if (modified or settings.SESSION_SAVE_EVERY_REQUEST) and not empty:
                if await session.aget_expire_at_browser_close():
                    max_age = expires = None
                else:
                    max_age = await session.aget_expiry_age()
                    expires = http_date(time.time() + max_age)
                if response.status_code < 500:
                    try:
                        await session.asave()
                    except UpdateError:
                        raise SessionInterrupted(
                            "The request's session was deleted before the "
                            "request completed. The user may have logged "
                            "out in a concurrent request, for example."
                        ) from None
                    response.set_cookie(
                        settings.SESSION_COOKIE_NAME,
                        session.session_key,
                        max_age=max_age,
                        expires=expires,
                        domain=settings.SESSION_COOKIE_DOMAIN,
                        path=settings.SESSION_COOKIE_PATH,
                        secure=settings.SESSION_COOKIE_SECURE or None,
                        httponly=settings.SESSION_COOKIE_HTTPONLY or None,
                        samesite=settings.SESSION_COOKIE_SAMESITE,
                    )
                    need_vary_cookie = True
        if need_vary_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response


# end-session


# start-csrf
class Rejection:
    """A CSRF failure whose log line and 403 page are still to be made."""

    def __init__(self, reason):
        self.reason = reason


class AsyncCsrfViewMiddleware(OnTheLoopMixin, CsrfViewMiddleware):
    """CsrfViewMiddleware with a coroutine process_view under ASGI."""

    checked_hooks = ("process_request", "process_view", "process_response")

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django wraps a sync process_view in sync_to_async under ASGI,
            # and calls a coroutine one as it is.
            self.process_view = self.aprocess_view

    async def aprocess_request(self, request):
        if settings.CSRF_USE_SESSIONS and hasattr(request, "session"):
            # Load the session with the async API, so that the sync hooks
            # find it in memory instead of querying from the event loop.
            await request.session.aget(CSRF_SESSION_KEY)
        return await super().aprocess_request(request)

    async def aprocess_view(self, request, callback, callback_args, callback_kwargs):
        # The checks read headers, cookies and request.POST: the body is
        # already in memory (or in a spooled file) when the view is called.
        args = (request, callback, callback_args, callback_kwargs)
        response = await self.call_hook("process_view", *args)
        if isinstance(response, Rejection):
            # Logging and rendering the failure page write and read files.
            reject = sync_to_async(super()._reject)
            return await reject(request, response.reason)
        return response

    def _reject(self, request, reason):
        if self.async_mode:
            return Rejection(reason)
        return super()._reject(request, reason)


# end-csrf


# start-messages
class AsyncMessageMiddleware(OnTheLoopMixin, MessageMiddleware):
    """MessageMiddleware that hops only when it may write to the session."""

    checked_hooks = ("process_request", "process_response")

    async def aprocess_response(self, request, response):
        storage = getattr(request, "_messages", None)
        session = getattr(request, "session", None)
        pending = storage is not None and (storage.used or storage.added_new)
        if pending and session is not None and not session.accessed:
            # The default storage writes what the cookie cannot hold to the
            # session, which would load it with a query: do that in a thread.
            return await sync_to_async(self.process_response)(request, response)
        return await super().aprocess_response(request, response)


# end-messages
