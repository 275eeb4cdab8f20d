"""Authentication, sessions and permissions in async views: docs/guides/auth.md.

The views sign a user in and out of the status board, remember which incidents
a user has acknowledged in the session, and let only users with the
``board.change_incident`` permission close incidents. ``SignedTokenBackend``
is a custom authentication backend with a native async path, for scripts that
call the board with a signed token instead of a password.
tests/snippets/guides/test_auth.py runs each view through WSGI and ASGI.
"""

from django.contrib import admin
from django.contrib.auth import aauthenticate, alogin, alogout, get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core import signing
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from sampleproject.board.models import Incident

UNKNOWN = {"error": "unknown username or password"}


# start-whoami
async def whoami(request):
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"user": None})
    return JsonResponse({"user": user.get_username()})


# end-whoami


# start-whoami-sync
def whoami_sync(request):
    # Sync view: request.user loads the session and user in this thread.
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"user": None})
    return JsonResponse({"user": user.get_username()})


# end-whoami-sync


# start-request-user-trap
async def whoami_sync_user(request):
    return JsonResponse({"user": request.user.get_username() or None})


# end-request-user-trap


# start-sign-in
@require_POST
async def sign_in(request):
    user = await aauthenticate(
        request,
        username=request.POST.get("username"),
        password=request.POST.get("password"),
    )
    if user is None:
        return JsonResponse(UNKNOWN, status=400)
    await alogin(request, user)
    return JsonResponse({"user": user.get_username()})


@require_POST
async def sign_out(request):
    await alogout(request)
    return JsonResponse({"user": None})


# end-sign-in


# start-session
@login_required
@require_POST
async def acknowledge(request, incident_id):
    acknowledged = await request.session.aget("acknowledged", [])
    if incident_id not in acknowledged:
        # A new list, not .append(): the session saves when a key is set.
        await request.session.aset("acknowledged", [*acknowledged, incident_id])
    return JsonResponse({"acknowledged": await request.session.aget("acknowledged")})


# end-session


# start-permission
@require_POST
async def close_incident(request, incident_id):
    user = await request.auser()
    if not await user.ahas_perm("board.change_incident"):
        return JsonResponse({"error": "you may not close incidents"}, status=403)
    closed = await Incident.objects.filter(pk=incident_id, closed_at=None).aupdate(
        closed_at=timezone.now()
    )
    if not closed:
        return JsonResponse({"error": "no such open incident"}, status=404)
    return JsonResponse({"closed": incident_id})


# end-permission


# start-decorators
async def is_staff(user):
    # An async test runs on the loop; a sync one would go to a thread.
    return user.is_staff


@user_passes_test(is_staff)
async def staff_only(request):
    user = await request.auser()
    return JsonResponse({"staff": user.get_username()})


# end-decorators


# start-csrf
async def incident_form(request):
    # The form's hidden input; CsrfViewMiddleware checks it on the POST.
    return HttpResponse(get_token(request))


# end-csrf


# start-backend
class SignedTokenBackend(BaseBackend):
    """Sign in with ``token=``: a username signed with the project's SECRET_KEY."""

    salt = "board.token"
    max_age = 3600  # seconds

    def username(self, token):
        try:
            return signing.TimestampSigner(salt=self.salt).unsign(
                token, max_age=self.max_age
            )
        except signing.BadSignature:
            return None

    def authenticate(self, request, token=None):
        users = get_user_model()._default_manager
        try:
            user = users.get_by_natural_key(self.username(token))
        except users.model.DoesNotExist:
            return None
        return user if user.is_active else None

    async def aauthenticate(self, request, token=None):
        users = get_user_model()._default_manager
        try:
            user = await users.aget_by_natural_key(self.username(token))
        except users.model.DoesNotExist:
            return None
        return user if user.is_active else None

    def get_user(self, user_id):
        users = get_user_model()._default_manager
        return users.filter(pk=user_id, is_active=True).first()

    async def aget_user(self, user_id):
        users = get_user_model()._default_manager
        return await users.filter(pk=user_id, is_active=True).afirst()


def make_token(user):
    return signing.TimestampSigner(salt=SignedTokenBackend.salt).sign(
        user.get_username()
    )


@require_POST
async def sign_in_with_token(request):
    user = await aauthenticate(request, token=request.POST.get("token", ""))
    if user is None:
        return JsonResponse({"error": "invalid or expired token"}, status=400)
    await alogin(request, user)
    return JsonResponse({"user": user.get_username()})


# end-backend


# start-legacy-backend
class LegacyTokenBackend:
    """A backend written before async Django: no BaseBackend, no a-methods."""

    def authenticate(self, request, token=None):
        return SignedTokenBackend().authenticate(request, token=token)

    def get_user(self, user_id):
        return SignedTokenBackend().get_user(user_id)


# end-legacy-backend


urlpatterns = [
    # The project's LOGIN_URL is the admin's login page.
    path("admin/", admin.site.urls),
    path("whoami/", whoami),
    path("whoami/sync-user/", whoami_sync_user),
    path("whoami/sync/", whoami_sync),
    path("sign-in/", sign_in),
    path("sign-out/", sign_out),
    path("sign-in/token/", sign_in_with_token),
    path("incidents/<int:incident_id>/acknowledge/", acknowledge),
    path("incidents/<int:incident_id>/close/", close_incident),
    path("incidents/form/", incident_form),
    path("staff/", staff_only),
]
