"""One JSON endpoint, four ways: plain async views, DRF, adrf and Django Ninja.

Shown on docs/guides/rest-apis.md. Each stack serves ``<stack>/services/``:

- ``GET`` lists the enabled services with the outcome of their last check,
  read with the board's own query (``tiles_queryset()``);
- ``POST`` adds a service from a JSON object ``{"name", "slug", "url"}``, for a
  logged-in user only, with the board's validation (the URL policy and a
  unique slug).

The stacks: ``plain`` (async views and ``JsonResponse``, Django alone),
``drf`` (Django REST framework's sync ``APIView``), ``adrf`` (the same with
async handlers) and ``ninja`` (Django Ninja's async operations).
``urlpatterns`` mounts all four; none of them needs an entry in
``INSTALLED_APPS`` (JSON only: no browsable API, no docs page).
"""

import json
from datetime import datetime

from adrf import serializers as async_serializers
from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_http_methods
from ninja import NinjaAPI, Schema, Status
from ninja.security import django_auth
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from sampleproject.board.forms import ServiceForm
from sampleproject.board.models import Service
from sampleproject.board.state import tiles_queryset

STATES = {True: "up", False: "down", None: "unknown"}
SERVICE_FIELDS = ["name", "slug", "url"]
LOGIN_FIRST = {"error": "log in to add a service"}


# start-plain
def status_row(service) -> dict:
    """One service of tiles_queryset(), as every stack shows it."""
    return {
        "slug": service.slug,
        "name": service.name,
        "state": STATES[service.last_ok],
        "status_code": service.last_status,
        "checked_at": service.last_checked,
    }


class ServiceInput(ServiceForm):
    """The board's add-a-service form, less its interval field."""

    interval_seconds = None

    class Meta(ServiceForm.Meta):
        fields = SERVICE_FIELDS


@require_http_methods(["GET", "POST"])
async def services_plain(request):
    if request.method == "POST":
        return await create_service_plain(request)
    rows = [status_row(service) async for service in tiles_queryset()]
    return JsonResponse(rows, safe=False)


async def create_service_plain(request):
    if not (await request.auser()).is_authenticated:
        return JsonResponse(LOGIN_FIRST, status=403)
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "send a JSON object"}, status=400)
    form = ServiceInput(data)
    # is_valid() asks the database whether the slug is taken: sync, so a hop.
    if not await sync_to_async(form.is_valid)():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    service = form.instance
    await service.asave()
    return JsonResponse({f: getattr(service, f) for f in SERVICE_FIELDS}, status=201)


# end-plain


# start-drf
class ServiceStatusSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    state = serializers.SerializerMethodField()
    status_code = serializers.IntegerField(source="last_status")
    checked_at = serializers.DateTimeField(source="last_checked")

    def get_state(self, service):
        return STATES[service.last_ok]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = SERVICE_FIELDS


class JSONOnly:
    """What both DRF views use; a project sets these in REST_FRAMEWORK."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticatedOrReadOnly]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]


class ServicesDRF(JSONOnly, APIView):
    def get(self, request):
        return Response(ServiceStatusSerializer(tiles_queryset(), many=True).data)

    def post(self, request):
        serializer = ServiceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=201)


# end-drf


# start-adrf
class ServiceStatusAsyncSerializer(async_serializers.Serializer):
    slug = async_serializers.CharField()
    name = async_serializers.CharField()
    state = async_serializers.SerializerMethodField()
    status_code = async_serializers.IntegerField(source="last_status")
    checked_at = async_serializers.DateTimeField(source="last_checked")

    async def get_state(self, service):
        return STATES[service.last_ok]


class ServiceAsyncSerializer(async_serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = SERVICE_FIELDS


class ServicesADRF(JSONOnly, AsyncAPIView):
    async def get(self, request):
        serializer = ServiceStatusAsyncSerializer(tiles_queryset(), many=True)
        return Response(await serializer.adata)

    async def post(self, request):
        serializer = ServiceAsyncSerializer(data=request.data)
        # Validation is sync (the slug's uniqueness is a query): a hop.
        await sync_to_async(serializer.is_valid)(raise_exception=True)
        await serializer.asave()
        return Response(await serializer.adata, status=201)


# end-adrf


# start-ninja
api = NinjaAPI(urls_namespace="rest-apis-ninja", docs_url=None)


class ServiceStatusOut(Schema):
    slug: str
    name: str
    state: str
    status_code: int | None
    checked_at: datetime | None


class ServiceIn(Schema):
    name: str
    slug: str
    url: str


@api.get("/services/", response=list[ServiceStatusOut])
async def list_services(request):
    return [status_row(service) async for service in tiles_queryset()]


@api.post("/services/", response={201: ServiceIn, 422: dict}, auth=django_auth)
async def create_service(request, payload: ServiceIn):
    service = Service(**payload.dict())
    try:
        # The model's validators: the URL policy, and a query for the slug.
        await sync_to_async(service.full_clean)()
    except ValidationError as error:
        return Status(422, {"errors": error.message_dict})
    await service.asave()
    return Status(201, service)


# end-ninja


urlpatterns = [
    path("plain/services/", services_plain),
    path("drf/services/", ServicesDRF.as_view()),
    path("adrf/services/", ServicesADRF.as_view()),
    path("ninja/", api.urls),
]
