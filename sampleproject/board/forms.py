"""The add-a-service form."""

from datetime import timedelta

from django import forms

from sampleproject.board.models import Service
from sampleproject.board.urlsafety import validate_url_offline


class ServiceForm(forms.ModelForm):
    # No DNS here (the syntax, and the address of a literal like 10.0.0.1): form
    # validation is sync, so the view resolves names with the async resolver.
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        validators=[validate_url_offline],
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
