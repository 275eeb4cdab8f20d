"""The admin: sync views, which work unchanged when the project is served over ASGI."""

from django.contrib import admin

from sampleproject.board.models import Check, Incident, Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "url", "expected_status", "interval", "enabled"]
    list_filter = ["enabled"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug", "url"]


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    list_display = ["service", "checked_at", "ok", "status_code", "error", "latency_ms"]
    list_filter = ["ok", "error", "service"]
    list_select_related = ["service"]
    date_hierarchy = "checked_at"


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["service", "cause", "opened_at", "closed_at"]
    list_filter = ["service"]
    list_select_related = ["service"]
