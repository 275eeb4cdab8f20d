"""Part 2: turn a service on or off. Run ``python enable.py <slug> on|off``."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from sampleproject.board.models import Service  # noqa: E402

if len(sys.argv) != 3 or sys.argv[2] not in ("on", "off"):
    sys.exit("usage: python enable.py <slug> on|off")
slug, state = sys.argv[1:]
# No event loop runs here, so the sync ORM is the right one.
if not Service.objects.filter(slug=slug).update(enabled=state == "on"):
    sys.exit(f"no service with the slug {slug!r}")
print(f"{slug}: {state}")
