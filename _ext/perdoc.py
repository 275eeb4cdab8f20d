"""Per-document data in Sphinx's build environment, kept right across builds.

An extension that records something while it reads each page (the snippets a
page includes, the test files it cites) keeps a dict on the environment, keyed
by document name. Sphinx must be told to start it, to forget a page that is read
again, and to merge what parallel readers found: :func:`track_per_document`
connects those three hooks for one such attribute.
"""

from __future__ import annotations


def track_per_document(app, attribute: str) -> None:
    """Keep ``env.<attribute>`` as ``{docname: value}`` through Sphinx's hooks."""

    def init(app, env, docnames) -> None:
        if not hasattr(env, attribute):
            setattr(env, attribute, {})

    def purge(app, env, docname) -> None:
        getattr(env, attribute, {}).pop(docname, None)

    def merge(app, env, docnames, other) -> None:
        ours, theirs = getattr(env, attribute), getattr(other, attribute, {})
        for docname in docnames:
            if docname in theirs:
                ours[docname] = theirs[docname]

    app.connect("env-before-read-docs", init)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
