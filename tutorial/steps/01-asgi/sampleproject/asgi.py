"""ASGI entry point: ``uvicorn sampleproject.asgi:application``."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
application = get_asgi_application()

if settings.DEBUG:
    # runserver serves static files in development; uvicorn does not, so wrap
    # the application as runserver would. In production a web server or
    # WhiteNoise serves the files collected by collectstatic.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)
