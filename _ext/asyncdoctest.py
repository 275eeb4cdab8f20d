"""Top-level ``await`` in ``{doctest}`` and ``{testcode}`` blocks.

Sphinx's doctest builder compiles each example with the ``compile`` it patches
into the :mod:`doctest` module, then runs it with ``exec``. This extension
replaces the builder with one that

* compiles with :data:`ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`, so ``await`` is legal at
  the top level of an example, and
* runs an example whose code object is a coroutine on one event loop kept for the
  whole document, so tasks, connections and other loop-bound objects made in one
  example are still usable in the next.

Examples without ``await`` run as ordinary code, outside any running loop, as
they would in a user's program: sync ORM calls work there, and the same calls
inside ``async def`` code raise ``SynchronousOnlyOperation`` as they would in a
real async view.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import doctest
import inspect
import types
from pathlib import Path

from sphinx.ext.doctest import DocTestBuilder

TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class AsyncDocTestBuilder(DocTestBuilder):
    """The ``doctest`` builder, able to await at the top level of an example."""

    name = "doctest"
    loop: asyncio.AbstractEventLoop | None = None

    def init(self) -> None:
        super().init()
        # doctest looks ``exec`` up in its module globals before the builtins,
        # the same hook Sphinx uses for ``compile``.
        doctest.exec = self.run_example  # type: ignore[attr-defined]

    def compile(self, code, name, type, flags, dont_inherit):
        return compile(code, name, self.type, flags | TOP_LEVEL_AWAIT, dont_inherit)

    def test_doc(self, docname, doctree) -> bool:
        self.loop = asyncio.new_event_loop()
        try:
            return super().test_doc(docname, doctree)
        finally:
            close_loop(self.loop)
            self.loop = None

    def get_line_number(self, node):
        """The 0-based line of the block's first line of code in its file.

        Sphinx reports the directive's line, which is off by the directive, its
        options and the blank line (in reStructuredText) or the fence (in MyST).
        doctest adds the example's own offset and 1 to what this returns, so a
        failure names the exact line of the failing ``>>>``.
        """
        line = super().get_line_number(node)
        source = node.source or ""
        if line is None or not Path(source).is_file():
            return line
        code = node["test"] if "test" in node else node.astext()
        first = next((text.strip() for text in code.splitlines() if text.strip()), "")
        lines = Path(source).read_text(encoding="utf-8").splitlines()
        for index in range(line, len(lines)):
            if lines[index].strip() == first:
                return index
        return line

    def run_example(self, code, globs, locals_=None):
        if not code.co_flags & inspect.CO_COROUTINE:
            return builtins.exec(code, globs, locals_)
        # A code object compiled with top-level await becomes a coroutine when
        # called as a function over the example's globals (as asyncio's REPL does).
        coroutine = types.FunctionType(code, globs)()
        self.loop.run_until_complete(coroutine)
        return None

    def finish(self) -> None:
        doctest.exec = builtins.exec  # type: ignore[attr-defined]
        super().finish()


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a page left running, then close its loop."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def setup(app):
    app.setup_extension("sphinx.ext.doctest")
    app.add_builder(AsyncDocTestBuilder, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": False}
