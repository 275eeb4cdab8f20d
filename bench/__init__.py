"""The benchmark harness: what each async path through Django costs, in process.

``python -m bench run`` measures, in worker processes of its own:

- request paths: a sync and an async view, each served by ``WSGIHandler`` and
  by ``ASGIHandler``, for a trivial view and for a small ORM read plus a
  template render;
- middleware adaptation: the async path behind 0, 1, 5 and 10 sync-only
  middleware, against the same number of async-capable ones;
- the bridges alone: one ``sync_to_async`` hop and one ``async_to_sync`` call;

and, as suites that run elsewhere (:mod:`bench.cases` says how one registers):

- the request paths on every Django feature release from 2.2 to 6.1, and on
  two asgiref releases, each in a virtual environment of its own, with the
  threads each request starts (:mod:`bench.versions`).

It writes every repetition's numbers, with the machine and the versions, as
JSON. The site's ``_ext/benchdata.py`` renders the performance pages from it.
"""
