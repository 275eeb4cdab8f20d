"""Sphinx configuration for Async Django, executed.

The source root is the repository root; ``include_patterns`` keeps the build to
index.md, docs/ and tutorial/. Cross-references to Django and Python resolve from
inventories committed under _inv/, so the build never needs the network (and the
``_ext.offline`` extension makes sure of it).
"""

import contextlib
import doctest
import io
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import django

# sphinxext-opengraph prints a note on import when matplotlib is missing (it
# draws social cards, which this site does not use): import it quietly first.
with contextlib.redirect_stdout(io.StringIO()):
    import sphinxext.opengraph  # noqa: F401

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

project = "Async Django, executed"
author = "The Async Django, executed authors"
copyright = "2026, the Async Django, executed authors"
django_version = ".".join(map(str, django.VERSION[:3]))
release = version = f"Django {django_version}"

extensions = [
    "_ext.offline",
    "myst_parser",
    "sphinx.ext.intersphinx",
    "sphinx.ext.graphviz",
    "_ext.sitea11y",
    "sphinx_copybutton",
    "sphinxext.opengraph",
    "notfound.extension",
    "_ext.sitemeta",
    "sphinx_design",
    "_ext.siteweight",
    "_ext.asyncdoctest",
    "_ext.doctest_django",
    "_ext.versionlabels",
    "_ext.asynccatalogue",
    "_ext.blockcheck",
    "_ext.sourcequote",
    "_ext.benchdata",
    "_ext.tutorial",
]

root_doc = "index"
include_patterns = ["index.md", "404.md", "docs/**", "tutorial/**"]
exclude_patterns = ["_build", ".venv", "**/steps/**"]
templates_path = ["_templates"]
html_static_path = ["_static"]
source_suffix = {".md": "markdown"}

# MyST: fenced directives plus the few Markdown extensions the pages use.
myst_enable_extensions = ["colon_fence", "deflist", "substitution", "attrs_inline"]
myst_heading_anchors = 3

# Nitpicky: every reference must resolve (the Makefile passes -n -W).
nitpicky = True

# Intersphinx from committed inventories only: the second element is a local file.
intersphinx_mapping = {
    "django": (
        "https://docs.djangoproject.com/en/6.1/",
        str(ROOT / "_inv/django-6.1.inv"),
    ),
    "python": ("https://docs.python.org/3.13/", str(ROOT / "_inv/python-3.13.inv")),
}
intersphinx_timeout = 1

# Doctests run against the sample project (see _ext/doctest_django.py).
doctest_global_setup = """
from _ext.doctest_django import django_before, setup_django
setup_django()
"""
doctest_show_successes = False
# Sphinx's default flags include IGNORE_EXCEPTION_DETAIL, which would accept any
# message after the exception's name: a page shows Django's exact error text,
# so the message must match too.
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1

# Copy only what a reader types: not prompts, not output.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True

# Benchmark figures: the newest full run (see _ext/benchdata.py).
benchdata_results_glob = "bench/results/full-*.json"

# Diagrams are drawn by graphviz-pure, a self-contained port of Graphviz's
# ``dot`` that pip installs from requirements.txt into the virtual environment,
# so a reader needs no system Graphviz (and every machine draws the same SVG).
graphviz_dot = str(Path(sys.executable).parent / "graphviz-pure")
graphviz_output_format = "svg"
# Labels are laid out with Verdana's metrics, one of the widest sans-serif
# fonts: a browser that draws them in a narrower font (Arial, DejaVu Sans or its
# default) keeps every label inside its box. graphviz-pure has no metrics for a
# generic family such as "sans-serif" and would fall back to narrow Times.
graphviz_dot_args = [
    "-Gbgcolor=transparent",
    "-Nfontname=Verdana",
    "-Efontname=Verdana",
    "-Gfontname=Verdana",
]

# Where the site is published and where its sources live. Read the Docs sets
# both variables in its build (the canonical URL differs per version); the
# defaults name the project's own. Pages get rel=canonical, OpenGraph tags and a
# meta description from these, the sitemap and robots.txt their absolute URLs.
html_baseurl = os.environ.get(
    "READTHEDOCS_CANONICAL_URL",
    "https://async-django-executed.readthedocs.io/en/latest/",
)
repository = os.environ.get(
    "READTHEDOCS_GIT_CLONE_URL",
    "https://github.com/async-django-executed/async-django-executed",
).removesuffix(".git")

html_theme = "furo"
html_title = "Async Django, executed"
html_css_files = ["site.css"]
html_theme_options = {
    # "Edit this page" and "View this page" link to the page's Markdown source.
    "source_repository": repository + "/",
    "source_branch": os.environ.get("READTHEDOCS_GIT_IDENTIFIER", "main"),
    "source_directory": "",
    "navigation_with_keys": True,
}
html_favicon = "_static/favicon.svg"
ogp_site_url = html_baseurl
ogp_site_name = project
# Social cards would need matplotlib; the favicon stands in as the page image.
ogp_social_cards = {"enable": False}
ogp_image = html_baseurl + "_static/favicon.svg"
ogp_image_alt = project
# Twitter/X reads the og: tags; this names the card to draw from them.
ogp_custom_meta_tags = ['<meta name="twitter:card" content="summary" />']
# The sitemap lists each page once, under html_baseurl (which names the version).
sitemap_url_scheme = "{link}"
# The test sources that {test} links show (_ext/sourcequote.py) are not pages
# for a search engine.
sitemap_excludes = ["search.html", "genindex.html", "404.html", "_tests/*"]
# The 404 page (404.md) is served for any missing URL, so its links are
# absolute: under html_baseurl's path.
notfound_urls_prefix = urlparse(html_baseurl).path
# Styles from accessible-pygments whose every token color keeps 4.5:1 against
# the block's background (tests/site/test_code_contrast.py measures it).
pygments_style = "a11y-light"
pygments_dark_style = "a11y-dark"


def setup(app):
    # Django's docs define a "setting" object type; declaring it here lets
    # {setting}`CONN_MAX_AGE` resolve to Django's page through intersphinx.
    app.add_crossref_type("setting", "setting", indextemplate="pair: %s; setting")
