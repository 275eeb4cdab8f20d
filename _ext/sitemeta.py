"""What a crawler and a phone read besides the page: robots.txt, one viewport tag.

sphinxext-opengraph, sphinx-sitemap and sphinx-notfound-page do the rest of the
metadata (conf.py configures them). Three small gaps remain, filled here:

- docutils' HTML5 writer adds its own ``<meta name="viewport">`` to every page,
  and furo's template already has one: browsers and validators flag the pair.
  The writer's copy is dropped.
- ``robots.txt`` must name the sitemap by its absolute URL, which depends on
  ``html_baseurl`` (Read the Docs sets it per version), so it is written at the
  end of each build rather than kept as a static file.
- A server shows the 404 page for a missing URL at any depth, so its links
  must be absolute. sphinx-notfound-page makes the theme's links so, and the
  images in the page's text, but not the links in its text: those get the
  same prefix here (the page sits at the root, so they are root-relative).
- sphinx-sitemap lists the pages written by this build, so an incremental
  build (a second ``make html``, ``make serve``) wrote a sitemap of the few
  pages that changed. The pages this build did not write are added to its
  list before it writes the file.
"""

import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

BASEURL = re.compile(r"https://[^/\s]+/(\S*/)?")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
DOCUTILS_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>\n?')


def one_viewport(app, pagename, templatename, context, doctree):
    """Drop docutils' viewport tag: the theme's own one stays."""
    if "metatags" in context:
        context["metatags"] = DOCUTILS_VIEWPORT.sub("", context["metatags"])


def robots_txt(baseurl: str, sitemap: str) -> str:
    """Allow every page, and point crawlers at the sitemap."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {baseurl.rstrip('/')}/{sitemap}\n"


def valid_baseurl(app) -> bool:
    return BASEURL.fullmatch(app.config.html_baseurl or "") is not None


def check_baseurl(app):
    """A wrong base URL is one warning (an error under -W), not a traceback."""
    if not valid_baseurl(app):
        logger.warning(
            "html_baseurl must be an https:// URL ending in '/', got %r: pages"
            " would name a wrong canonical URL, and robots.txt is not written",
            app.config.html_baseurl,
        )


def absolute_links_on_404_page(app, doctree, docname):
    if docname != app.config.notfound_pagename:
        return
    prefix = app.config.notfound_urls_prefix or "/"
    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if uri and not SCHEME.match(uri) and not uri.startswith(("#", "/")):
            reference["refuri"] = prefix + uri


def note_written(app, pagename, templatename, context, doctree):
    app.env.sitemeta_written = getattr(app.env, "sitemeta_written", set())
    app.env.sitemeta_written.add(pagename)


def list_unwritten_pages(app):
    """Hand sphinx-sitemap the pages an incremental build did not rewrite."""
    from sphinx_sitemap import add_html_link

    written = getattr(app.env, "sitemeta_written", set())
    for docname in sorted(app.env.found_docs - written):
        add_html_link(app, docname, None, None, None)
    app.env.sitemeta_written = set()
    return []


def write_robots_txt(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    if not valid_baseurl(app):
        return
    text = robots_txt(app.config.html_baseurl, app.config.sitemap_filename)
    Path(app.outdir, "robots.txt").write_text(text, encoding="utf-8")


def setup(app):
    app.setup_extension("sphinx_sitemap")
    app.connect("builder-inited", check_baseurl)
    app.connect("html-page-context", one_viewport)
    app.connect("html-page-context", note_written)
    app.connect("html-collect-pages", list_unwritten_pages)
    app.connect("doctree-resolved", absolute_links_on_404_page)
    app.connect("build-finished", write_robots_txt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
