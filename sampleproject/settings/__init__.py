"""Settings modules: ``dev`` (the default), ``test`` and ``prod``.

``base`` holds what they share. Environment variables select the backing
services: ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (cache and pub/sub).
"""
