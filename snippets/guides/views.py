"""Async views and class-based views, shown in docs/guides/views.md.

The views read the status board's services, checks and incidents. Each one is
also mounted in tests/snippets/guides/test_views.py, which calls it through the
sync handler (WSGI) and the async handler (ASGI) on both Django versions.
"""

import functools

from asgiref.sync import iscoroutinefunction
from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import aget_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from sampleproject.board.models import Check, Incident, Service


# start-function-view
async def latest_check(request, slug):
    service = await aget_object_or_404(Service, slug=slug)
    check = await service.checks.order_by("-checked_at").afirst()
    if check is None:
        return JsonResponse({"service": slug, "ok": None})
    return JsonResponse({"service": slug, "ok": check.ok})


# end-function-view


class IncidentsView(View):
    """Open incidents of one service: every handler is ``async def``."""

    async def get(self, request, slug):
        incidents = Incident.objects.filter(service__slug=slug, closed_at=None)
        causes = [incident.cause async for incident in incidents]
        return JsonResponse({"service": slug, "open": causes})

    async def delete(self, request, slug):
        closed = await Incident.objects.filter(
            service__slug=slug, closed_at=None
        ).aupdate(closed_at=timezone.now())
        return JsonResponse({"service": slug, "closed": closed})


class MixedHandlersView(View):
    """One sync handler and one async handler: ``as_view()`` refuses it."""

    def get(self, request, slug):
        return HttpResponse(slug)

    async def delete(self, request, slug):
        return HttpResponse(status=204)


class ServiceView(View):
    """Load the service once in an async ``dispatch``, for every handler."""

    async def dispatch(self, request, *args, **kwargs):
        self.service = await aget_object_or_404(Service, slug=kwargs["slug"])
        return await super().dispatch(request, *args, **kwargs)

    async def get(self, request, slug):
        return JsonResponse({"service": self.service.name})

    async def http_method_not_allowed(self, request, *args, **kwargs):
        # A custom 405 in an async view is async too: the handler awaits it.
        allowed = self._allowed_methods()
        return HttpResponseNotAllowed(allowed, f"{self.service.name}: read only")


class SyncHandlersAsyncDispatchView(View):
    """An async ``dispatch`` over sync handlers: the view is not async."""

    async def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, slug):
        return HttpResponse(slug)


# start-method-decorator
@method_decorator(never_cache, name="get")
class ServiceAdminView(View):
    @method_decorator(login_required)
    async def get(self, request, slug):
        user = await request.auser()
        return JsonResponse({"service": slug, "user": user.get_username()})


# end-method-decorator


# start-mixin-trap
class IncidentsForStaffView(LoginRequiredMixin, View):
    async def get(self, request, slug):
        return JsonResponse({"service": slug})


# end-mixin-trap


# start-async-login-required
class AsyncLoginRequiredMixin:
    """``LoginRequiredMixin`` for views whose handlers are ``async def``."""

    async def dispatch(self, request, *args, **kwargs):
        user = await request.auser()
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return await super().dispatch(request, *args, **kwargs)


class AsyncPermissionRequiredMixin(AsyncLoginRequiredMixin):
    """``PermissionRequiredMixin`` for async handlers: ``ahas_perms`` awaits."""

    permission_required: tuple[str, ...] = ()

    async def dispatch(self, request, *args, **kwargs):
        user = await request.auser()
        if user.is_authenticated and not await user.ahas_perms(
            self.permission_required
        ):
            raise PermissionDenied
        return await super().dispatch(request, *args, **kwargs)


class CloseIncidentsView(AsyncPermissionRequiredMixin, View):
    permission_required = ("board.change_incident",)

    async def post(self, request, slug):
        closed = await Incident.objects.filter(
            service__slug=slug, closed_at=None
        ).aupdate(closed_at=timezone.now())
        return JsonResponse({"service": slug, "closed": closed})


# end-async-login-required


# start-decorated-handlers
class ServiceChecksView(View):
    @method_decorator(permission_required("board.view_check", raise_exception=True))
    async def get(self, request, slug):
        count = await Check.objects.filter(service__slug=slug).acount()
        return JsonResponse({"service": slug, "checks": count})


# end-decorated-handlers


# start-sync-only-decorator
def require_api_version(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.headers.get("Board-Api-Version") != "1":
            return JsonResponse({"error": "send Board-Api-Version: 1"}, status=400)
        return view(request, *args, **kwargs)

    return wrapper


# end-sync-only-decorator


# start-both-kinds-decorator
def require_api_version_any(view):
    """Refuse requests without the API version header, around any view."""

    def refused(request):
        if request.headers.get("Board-Api-Version") != "1":
            return JsonResponse({"error": "send Board-Api-Version: 1"}, status=400)
        return None

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            return refused(request) or await view(request, *args, **kwargs)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        return refused(request) or view(request, *args, **kwargs)

    return wrapper


# end-both-kinds-decorator


# start-urls
staff_urls = [
    # as_view() marks the view async, so login_required takes its async path.
    path(
        "staff/services/<slug:slug>/incidents/",
        login_required(IncidentsView.as_view()),
    ),
]
# end-urls

urlpatterns = [
    # The project's LOGIN_URL is the admin's login page.
    path("admin/", admin.site.urls),
    path("services/<slug:slug>/latest/", latest_check),
    path("services/<slug:slug>/incidents/", IncidentsView.as_view()),
    path("services/<slug:slug>/", ServiceView.as_view()),
    path("services/<slug:slug>/sync/", SyncHandlersAsyncDispatchView.as_view()),
    path("services/<slug:slug>/admin/", ServiceAdminView.as_view()),
    path("services/<slug:slug>/staff/", IncidentsForStaffView.as_view()),
    path("services/<slug:slug>/close/", CloseIncidentsView.as_view()),
    path("services/<slug:slug>/checks/", ServiceChecksView.as_view()),
    path("v1/services/<slug:slug>/latest/", require_api_version_any(latest_check)),
    path("broken/services/<slug:slug>/latest/", require_api_version(latest_check)),
    *staff_urls,
]
