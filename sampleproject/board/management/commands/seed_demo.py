"""``manage.py seed_demo``: create the demo services, pointing at the fake upstream."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from sampleproject.board.demo import demo_upstream, seed


class Command(BaseCommand):
    help = (
        "Create the demo services. Existing ones are left as they are, but a demo"
        " URL moves to the fake upstream's current port."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--upstream",
            help=(
                "Base URL of the fake upstream (default: on this machine, port 8001,"
                " or the port in the UPSTREAM_PORT environment variable)."
            ),
        )

    def handle(self, *args, upstream, **options):
        if upstream is None:
            try:
                upstream = demo_upstream()
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        try:
            URLValidator(schemes=["http", "https"])(upstream)
        except ValidationError:
            raise CommandError(
                f"--upstream must be an http(s) URL, got {upstream!r}"
            ) from None
        services = seed(upstream.rstrip("/"))
        self.stdout.write(f"{len(services)} demo services ready.")
