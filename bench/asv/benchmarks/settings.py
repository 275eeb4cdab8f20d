"""The settings every benchmark here shares, as in django-asv's ``benchmarks.settings``.

No middleware by default: a benchmark that measures middleware sets its own
with ``override_settings``, so each figure names what it includes.
"""

ALLOWED_HOSTS = ["*"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "benchmarks.urls"
SECRET_KEY = "NOT REALLY SECRET"
USE_TZ = True
