"""The Django app the servers run: ``bench.server_django:asgi`` or ``:wsgi``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server_settings")

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

asgi = get_asgi_application()
wsgi = get_wsgi_application()
