#!/usr/bin/env python
"""Django's command-line utility for the sample project."""

import os
import sys
from pathlib import Path


def main():
    # The project is the package ``sampleproject``: its parent must be importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
