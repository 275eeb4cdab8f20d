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
"(test)" link whose title is the test's id. The build fails if the file or the
test function does not exist, so a claim cannot outlive its proof.

The link goes to a page of the built site: the HTML builder writes each test file
that a page cites, highlighted, under ``_tests/`` (``_tests/tests/internals/
test_bridges.py.html``), with an anchor on every test (``#test_name``, or
``#TestClass.test_name`` for a method). The site has no repository URL, and the
copy it links to is the file the build checked, so the link works offline and
never points at another version of the test. Other builders render the marker
as text.

The marker is glued to the word before it by one no-break space, whatever
whitespace the source had there, so "(test)" never starts a line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxRole
from sphinx.util.nodes import make_refnode

from _ext.perdoc import track_per_document

ROOT = Path(__file__).resolve().parent.parent
# Where the HTML builder writes the cited test files, as page names.
TEST_PAGES = "_tests"
NBSP = "\u00a0"


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
        self.options["caption"] = f"{pyobject} in {shown} ({release})"
        return literal_caption(
            super().run(),
            nodes.literal(pyobject, pyobject),
            nodes.Text(f" in {shown} ({release})"),
        )


def literal_caption(result: list[nodes.Node], *children: nodes.Node) -> list:
    """Set the caption of a literalinclude's result to these nodes, unparsed.

    literalinclude parses its caption as inline markup: on a MyST page the
    ``__`` of ``django/db/__init__.py`` turns ``init`` bold and drops the
    underscores, so the reader sees a file name that does not exist.
    """
    for node in result:
        for caption in node.findall(nodes.caption):
            caption.children = []
            caption.extend(children)
            caption.rawsource = caption.astext()
    return result


def test_definitions(tree: ast.Module) -> dict[str, int]:
    """Every function and class of a test module, by ``::`` path: its first line.

    The first line is the first decorator's, so a link shows the markers too.
    """
    found: dict[str, int] = {}

    def walk(scope: list[ast.stmt], prefix: str) -> None:
        for node in scope:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + node.name
                lines = [node.lineno] + [d.lineno for d in node.decorator_list]
                found[name] = min(lines)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, name + "::")

    walk(tree.body, "")
    return found


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
    if name not in test_definitions(tree):
        return f"{path_text} has no test {name!r}"
    return None


def anchor(name: str) -> str:
    """The fragment id of a test on its file's page: ``Class.test`` for ``::``."""
    return name.replace("::", ".")


def test_page(path_text: str) -> str:
    return f"{TEST_PAGES}/{path_text}"


class ClaimTestRole(SphinxRole):
    def run(self):
        test_id = self.text.strip()
        problem = find_test_problem(test_id)
        if problem:
            message = self.inliner.reporter.error(
                f"{{test}}: {problem}", line=self.lineno
            )
            return [], [message]
        path_text, _, name = test_id.partition("::")
        self.env.claim_test_files.setdefault(self.env.docname, set()).add(path_text)
        xref = addnodes.pending_xref(
            "",
            nodes.inline("(test)", "(test)"),
            refdomain="std",
            reftype="claim-test",
            reftarget=test_page(path_text),
            refid=anchor(name),
            reftitle=test_id,
            refexplicit=True,
            refdoc=self.env.docname,
        )
        marker = nodes.inline("", "", xref, classes=["claim-test"])
        return [marker], []


def glue_markers(app, doctree) -> None:
    """Exactly one no-break space before each marker, in place of any whitespace."""
    for marker in list(doctree.findall(nodes.inline)):
        if "claim-test" not in marker["classes"]:
            continue
        parent = marker.parent
        # By identity: Text nodes are strings, and list.index() would find the
        # first equal one, such as an earlier line break.
        position = next(i for i, child in enumerate(parent) if child is marker)
        if position == 0:
            continue
        before = parent[position - 1]
        if isinstance(before, nodes.Text):
            # rstrip() takes a no-break space too: never two in a row.
            parent[position - 1] = nodes.Text(str(before).rstrip() + NBSP)
        else:
            parent.insert(position, nodes.Text(NBSP))


def resolve_claim_link(app, env, node, contnode):
    if node.get("reftype") != "claim-test":
        return None
    if app.builder.format != "html":
        return contnode
    link = make_refnode(
        app.builder,
        node["refdoc"],
        node["reftarget"],
        node["refid"],
        contnode,
        node["reftitle"],
    )
    link["classes"].append("claim-test-link")
    return link


def highlighted_test_file(app, path_text: str) -> str:
    """The file as highlighted HTML, an anchor at the first line of each test."""
    source = (ROOT / path_text).read_text(encoding="utf-8")
    starts: dict[int, list[str]] = {}
    for name, line in test_definitions(ast.parse(source)).items():
        starts.setdefault(line, []).append(anchor(name))
    html = app.builder.highlighter.highlight_block(source, "python", linenos=False)
    # Pygments keeps one output line per source line; the first one carries
    # the opening <pre>, split off so that line N is lines[N].
    lines = html.splitlines()
    before, _, first = lines[0].partition("<pre>")
    lines[0:1] = [before + "<pre>", first]
    for number in range(len(lines) - 1, 0, -1):
        ids = starts.get(number, [])
        targets = "".join(f'<span id="{ident}"></span>' for ident in ids)
        lines[number] = targets + lines[number]
    return "\n".join(lines)


def collect_test_pages(app):
    if app.builder.format != "html" or not hasattr(app.env, "claim_test_files"):
        return
    cited = sorted(set().union(*app.env.claim_test_files.values()))
    for path_text in cited:
        body = (
            f"<h1>{path_text}</h1>\n"
            f"<p>The test file as this build checked it.</p>\n"
            + highlighted_test_file(app, path_text)
        )
        context = {"parents": [], "title": path_text, "body": body}
        yield test_page(path_text), context, "page.html"


def setup(app):
    app.add_directive("source-object", SourceObject)
    app.add_role("test", ClaimTestRole())
    track_per_document(app, "claim_test_files")
    app.connect("doctree-read", glue_markers)
    app.connect("missing-reference", resolve_claim_link)
    app.connect("html-collect-pages", collect_test_pages)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
