"""The add-a-service form."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from sampleproject.board.models import Service
from sampleproject.board.urlsafety import UnsafeURL, check_url_syntax


def validate_url_syntax(value: str) -> None:
    # Syntax only (scheme, credentials, host, port): no DNS here, because form
    # validation is sync. The view resolves the host with the async resolver.
    try:
        check_url_syntax(value)
    except UnsafeURL as exc:
        raise ValidationError(str(exc), code=exc.reason) from exc


class ServiceForm(forms.ModelForm):
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
