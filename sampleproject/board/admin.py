"""The admin: sync views, which work unchanged when the project is served over ASGI."""

from django import forms
from django.contrib import admin
from django.db import models

from sampleproject.board.models import Check, Incident, Service
from sampleproject.board.urlsafety import validate_service_url


class ServiceAdminForm(forms.ModelForm):
    # No Meta: ModelAdmin builds the form for Service, with its fields, on this base.
    def clean_url(self):
        url = self.cleaned_data["url"]
        # The model refuses literal addresses; the admin is sync, so it can also
        # resolve the name and refuse one that points at a private address.
        validate_service_url(url)
        return url


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    # As the board's own form: a URL typed without a scheme means https (Django
    # 6.0's default; 5.2 assumes http and warns unless told).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
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
