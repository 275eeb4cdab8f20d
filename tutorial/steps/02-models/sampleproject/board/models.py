"""Services the team depends on, the checks made against them, and incidents."""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Service(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    url = models.URLField("URL", max_length=500)
    expected_status = models.PositiveSmallIntegerField(
        default=200, validators=[MinValueValidator(100), MaxValueValidator(599)]
    )
    timeout = models.FloatField(
        "timeout (seconds)",
        default=5.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(60)],
    )
    interval = models.DurationField(
        default=timedelta(seconds=60),
        help_text="How often the background checker checks this service.",
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("board:service-detail", kwargs={"slug": self.slug})


class Check(models.Model):
    class Error(models.TextChoices):
        TIMEOUT = "timeout", "Timed out"
        CONNECT = "connect", "Connection failed"
        PROTOCOL = "protocol", "Protocol error"
        STATUS = "status", "Unexpected status"
        REFUSED = "refused", "Refused by URL policy"

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="checks"
    )
    checked_at = models.DateTimeField(db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=20, choices=Error.choices, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    ok = models.BooleanField()

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["service", "-checked_at"])]

    def __str__(self):
        outcome = "ok" if self.ok else (self.error or self.status_code)
        return f"{self.service_id} at {self.checked_at:%H:%M:%S}: {outcome}"


class Incident(models.Model):
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="incidents"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(max_length=200)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # The database, not the code, guarantees one open incident per
            # service: two checks finishing at once cannot both open one.
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(closed_at__isnull=True),
                name="one_open_incident_per_service",
            )
        ]

    def __str__(self):
        state = "open" if self.closed_at is None else "closed"
        return f"{self.service_id}: {self.cause} ({state})"

    @property
    def is_open(self):
        return self.closed_at is None
