"""The add-a-service form."""

from datetime import timedelta

from django import forms

from sampleproject.board.models import Service
from sampleproject.board.urlsafety import validate_url_syntax


class ServiceForm(forms.ModelForm):
    # Syntax only (scheme, credentials, host, port): form validation is sync, so
    # no DNS here; the view resolves the host with the async resolver.
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        validators=[validate_url_syntax],
    )
    interval_seconds = forms.IntegerField(
        label="Check every (seconds)", min_value=5, max_value=86400, initial=60
    )

    class Meta:
        model = Service
        fields = ["name", "slug", "url", "expected_status", "timeout"]

    def clean(self):
        cleaned = super().clean()
        if "interval_seconds" in cleaned:
            self.instance.interval = timedelta(seconds=cleaned["interval_seconds"])
        return cleaned
