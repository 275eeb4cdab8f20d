"""Quote installed source code by object name, and link a claim to its test.

``{source-object}`` includes the source of a function, class or method from the
installed package, found by importing it, so a page always shows the code that
runs for the pinned version, never a pasted copy::

    ```{source-object} django.core.handlers.base.BaseHandler.adapt_method_mode
    ```

The caption names the file and the installed version. An object that no longer
exists fails the build (an error under ``-W``).

``{test}`` links a sentence to the test that proves it: ``{test}`tests/internals/
test_bridges.py::test_async_to_sync_in_a_running_loop_raises``` renders a small
"(test)" marker whose title is the test's id. The build fails if the file or the
test function does not exist, so a claim cannot outlive its proof.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from docutils import nodes
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxRole

ROOT = Path(__file__).resolve().parent.parent


def locate(dotted: str) -> tuple[Path, str, str]:
    """(source file, object path inside the module, distribution name)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        target = module
        for name in parts[cut:]:
            target = getattr(target, name, None)
            if target is None:
                raise LookupError(f"{module_name} has no {'.'.join(parts[cut:])}")
        source = inspect.getsourcefile(module)
        return Path(source), ".".join(parts[cut:]), parts[0]
    raise LookupError(f"cannot import any module from {dotted!r}")


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown version"


class SourceObject(LiteralInclude):
    """A ``literalinclude`` of an installed object, by its dotted name."""

    required_arguments = 1
    optional_arguments = 0
    option_spec = {
        key: LiteralInclude.option_spec[key]
        for key in ("emphasize-lines", "linenos", "dedent")
    }

    def run(self):
        dotted = self.arguments[0]
        try:
            path, pyobject, distribution = locate(dotted)
        except LookupError as exc:
            raise self.error(f"source-object: {exc}") from exc
        package_root = Path(
            importlib.import_module(distribution).__file__
        ).parent.parent
        shown = (
            path.relative_to(package_root)
            if path.is_relative_to(package_root)
            else path
        )
        # literalinclude reads a leading "/" as the source root, and joins the
        # rest to it. Relative to the source root, not to the page: a page's
        # directory may be a symbolic link, resolved before joining.
        self.arguments = ["/" + os.path.relpath(path, self.env.srcdir)]
        self.options["pyobject"] = pyobject
        self.options["language"] = "python"
        release = f"{distribution} {installed_version(distribution)}"
        # Code markup: names like __call__ would otherwise turn bold.
        self.options.setdefault("caption", f"``{pyobject}`` in {shown} ({release})")
        return super().run()


def find_test_problem(test_id: str) -> str | None:
    """None if ``path::name`` names a test (in a class or not), else why not."""
    path_text, _, name = test_id.partition("::")
    path = ROOT / path_text
    if not name or not path.is_file():
        return (
            f"no test file {path_text!r}"
            if name
            else f"expected path::name, got {test_id!r}"
        )
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wanted = name.split("::")
    scope: list[ast.stmt] = tree.body
    for part in wanted:
        found = next(
            (
                node
                for node in scope
                if isinstance(
                    node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                )
                and node.name == part
            ),
            None,
        )
        if found is None:
            return f"{path_text} has no test {name!r}"
        scope = getattr(found, "body", [])
    return None


class ClaimTestRole(SphinxRole):
    def run(self):
        test_id = self.text.strip()
        problem = find_test_problem(test_id)
        if problem:
            message = self.inliner.reporter.error(
                f"{{test}}: {problem}", line=self.lineno
            )
            return [], [message]
        marker = nodes.inline("", "", classes=["claim-test"])
        marker += nodes.abbreviation("(test)", "(test)", explanation=test_id)
        return [nodes.Text("\u00a0"), marker], []


def setup(app):
    app.add_directive("source-object", SourceObject)
    app.add_role("test", ClaimTestRole())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
