"""Load sphinx-design's stylesheet and script only on the pages that use it.

sphinx-design (tabs that show sync and async side by side) registers its CSS
and JavaScript for every page; most pages have no tab, card or grid, and a phone
would fetch about 55 KB for nothing. A page uses sphinx-design when its body has
an element with an ``sd-`` class, the prefix of every class the extension emits.
"""

import re

DESIGN_ASSETS = ("sphinx-design.min.css", "design-tabs.js")
DESIGN_CLASS = re.compile(r'class="(?:[^"]*\s)?sd-')


def uses_design(body: str) -> bool:
    return DESIGN_CLASS.search(body) is not None


def without_design(assets: list) -> list:
    """The page's CSS or JS files, less sphinx-design's."""
    return [
        asset
        for asset in assets
        if not str(getattr(asset, "filename", asset)).endswith(DESIGN_ASSETS)
    ]


def design_only_where_used(app, pagename, templatename, context, doctree):
    if uses_design(context.get("body", "")):
        return
    for key in ("css_files", "script_files"):
        if key in context:
            context[key] = without_design(context[key])


def setup(app):
    app.connect("html-page-context", design_only_where_used)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
