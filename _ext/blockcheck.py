"""Keep the promise "every code block on the site runs".

During the build this extension warns (an error under ``-W``) when

* a Python code block is neither included from a file (``literalinclude``), nor a
  doctest (``{doctest}``, ``{testcode}``), nor marked not runnable with a reason;
* a code block has no language, so nobody can tell whether it is Python;
* a ``literalinclude`` selects lines by number (``:lines:``), which rots silently;
* a module under ``snippets/`` is included by no page (an orphan).

A block that truly cannot run is written with the ``not-runnable`` directive,
whose reason is required and shown to nobody but the next maintainer::

    ```{not-runnable} python
    :reason: a settings fragment; tests/sampleproject/test_settings.py checks it
    CONN_MAX_AGE = 0
    ```
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from _ext.perdoc import track_per_document

logger = logging.getLogger(__name__)

PYTHON_LANGUAGES = {"python", "python3", "py", "py3", "pycon", "pycon3", "ipython"}
LINE_NUMBER_INCLUDE = re.compile(r"^\s*:lines:", re.MULTILINE)


class NotRunnableDirective(SphinxDirective):
    """A code block that cannot run, with the reason it cannot."""

    required_arguments = 1  # the language
    has_content = True
    option_spec = {"reason": directives.unchanged_required, "caption": str}

    def run(self):
        reason = self.options.get("reason", "").strip()
        if not reason:
            raise self.error("not-runnable needs a :reason: saying why it cannot run")
        code = "\n".join(self.content)
        block = nodes.literal_block(code, code, language=self.arguments[0])
        block["not_runnable"] = reason
        self.set_source_info(block)
        return [block]


def block_kind(block: nodes.literal_block) -> str:
    """How a block is kept honest: included, doctest, not-runnable, or unchecked."""
    if block.get("testnodetype"):
        return "doctest"
    if block.get("not_runnable"):
        return "not-runnable"
    if block.attributes.get("source"):
        return "included"
    return "unchecked"


def check_doctree(app, doctree) -> None:
    env = app.env
    included = env.blockcheck_included.setdefault(env.docname, set())
    for block in doctree.findall(nodes.literal_block):
        kind = block_kind(block)
        language = block.get("language")
        if kind == "included":
            included.add(str(Path(block["source"]).resolve()))
        if kind == "doctest":
            continue
        if not language or language == "default":
            logger.warning("code block without a language", location=block)
        elif language in PYTHON_LANGUAGES and kind == "unchecked":
            logger.warning(
                "Python code block is neither included from a tested file, "
                "nor a doctest, nor marked {not-runnable} with a reason",
                location=block,
            )
    source = Path(env.doc2path(env.docname))
    if LINE_NUMBER_INCLUDE.search(source.read_text(encoding="utf-8")):
        logger.warning(
            "literalinclude by line numbers (:lines:); include by :pyobject: "
            "or :start-after:/:end-before: markers instead",
            location=env.docname,
        )


def snippet_modules(snippets_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in snippets_dir.rglob("*.py")
        if path.name not in {"__init__.py", "conftest.py"}
    )


def orphans(snippets_dir: Path, included: set[str]) -> list[Path]:
    """Snippet modules (as found under snippets_dir) that no page includes."""
    return [
        path
        for path in snippet_modules(snippets_dir)
        if str(path.resolve()) not in included
    ]


def check_orphans(app, env) -> None:
    snippets_dir = Path(app.srcdir) / app.config.blockcheck_snippets_dir
    if not snippets_dir.is_dir():
        return
    included = set().union(*env.blockcheck_included.values())
    for path in orphans(snippets_dir, included):
        relative = path.relative_to(app.srcdir)
        logger.warning("snippet %s is included by no page (orphan)", relative)


def setup(app):
    app.add_config_value("blockcheck_snippets_dir", "snippets", "env")
    app.add_directive("not-runnable", NotRunnableDirective)
    track_per_document(app, "blockcheck_included")
    app.connect("doctree-read", check_doctree)
    app.connect("env-check-consistency", check_orphans)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
