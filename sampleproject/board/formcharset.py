"""Answer 400, not 500, to a form body that declares a charset other than UTF-8.

Django reads an ``application/x-www-form-urlencoded`` body as UTF-8 only. When
the Content-Type names another charset (``charset=latin-1``, ``utf-16``, even
the alias ``utf8``), reading ``request.POST`` raises ``BadRequest``, and Django
does not remember that it failed. ``CsrfViewMiddleware`` reads ``request.POST``
and raises; the 400 handler runs the CSRF check again and raises; so does the
500 handler, and the exception escapes Django: the server answers 500.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import BadRequest
from django.http import HttpResponseBadRequest

FORM = "application/x-www-form-urlencoded"


class FormCharsetMiddleware:
    """Read a form body before ``CsrfViewMiddleware`` does, and answer its refusal.

    Goes right before ``CsrfViewMiddleware`` in ``MIDDLEWARE``. The CSRF check
    parses the same body next, so this adds no work (except for a view exempt
    from CSRF that never reads its body). It runs in the mode of the layer
    below it, so it adds no thread hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            # Django awaits the instance only if it looks like a coroutine function.
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    async def __acall__(self, request):
        # The body is in memory and capped by DATA_UPLOAD_MAX_MEMORY_SIZE:
        # parsing it is short CPU work, cheaper on the loop than a thread hop.
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        return await self.get_response(request)

    @staticmethod
    def refusal(request):
        if request.method != "POST" or request.content_type != FORM:
            return None
        try:
            request.POST  # noqa: B018 (parsing is the point)
        except BadRequest as exc:
            return HttpResponseBadRequest(
                f"{exc}\n", content_type="text/plain; charset=utf-8"
            )
        return None
