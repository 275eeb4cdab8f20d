"""The tutorial's directives: write this file, download that one, run these commands.

````md
```{tutorial-file} sampleproject/board/models.py
:source: sampleproject/board/models.py
```
````

shows the whole repository file ``:source:`` under the caption of the path the
reader writes it to. With ``:diff-from: <repository path>`` it still shows the
whole file, with the lines that are new or changed since that earlier version
highlighted, so the reader replaces the file and needs no tool to apply a diff.

````md
```{tutorial-download} sampleproject/board/urlsafety.py
:source: sampleproject/board/urlsafety.py
:interface: check_url UnsafeURL
```
````

hands over a ready file: a download link to the repository file (Sphinx copies
it into the built site), and the signature and first docstring line of each
name in ``:interface:``, read from the file.

````md
```{tutorial-shell}
$ python manage.py check
System check identified no issues (0 silenced).
```
````

shows a console session. ``{tutorial-project}`` links the zip of the project
as it stands after the part (written by the HTML build), and ``{tutorial-pace}``
tables the lines each part has the reader write and download.

The replay test (``tests/tutorial/replay.py``) runs the same directives from
the same page source, so the page cannot promise what the code does not do.
The options and what the replay does with them are in
:mod:`_ext.tutorialpage`; this module only renders, after validating the
options with the same parser, so a block the replay would reject fails the build.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxDirective

from _ext.sourcequote import literal_caption
from _ext.tutorialpage import PageError, file_step, shell_step
from _ext.tutorialproject import (
    catch_up,
    changed_lines,
    interface,
    pace,
    parts_of,
    project_zip,
    zip_name,
)

# Where the HTML builder writes each part's project zip, inside the output.
ZIP_DIRECTORY = "_downloads/tutorial"


def options(*names: str) -> dict:
    """Read every option as text; :mod:`_ext.tutorialpage` decides what is valid."""
    return {name: directives.unchanged for name in names}


def given_options(directive: SphinxDirective) -> dict[str, str]:
    return {name: str(value or "").strip() for name, value in directive.options.items()}


class TutorialFile(LiteralInclude):
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    has_content = False
    option_spec = options("source", "diff-from", "language")

    def run(self):
        try:
            step = file_step(self.arguments[0], given_options(self), self.lineno)
        except PageError as exc:
            raise self.error(str(exc)) from None
        # Paths starting with "/" are relative to the source root: the repository.
        self.arguments = ["/" + step.source]
        self.options = {"caption": step.destination, "language": step.language}
        if step.diff_from:
            root = Path(self.env.srcdir)
            if not (root / step.diff_from).is_file():
                raise self.error(f":diff-from: {step.diff_from} does not exist")
            self.env.note_dependency(str(root / step.diff_from))
            changed = changed_lines(
                (root / step.diff_from).read_text(encoding="utf-8"),
                (root / step.source).read_text(encoding="utf-8"),
            )
            if not changed:
                raise self.error(f"{step.source} adds no line to {step.diff_from}")
            self.options["emphasize-lines"] = ",".join(map(str, changed))
        # The path as text: parsed as markup, "__init__.py" shows as "init.py".
        result = literal_caption(super().run(), nodes.Text(step.destination))
        for node in result:
            for block in node.findall(nodes.literal_block):
                block["classes"].append("tutorial-file")
                block["tutorial_destination"] = step.destination
                if step.diff_from:
                    block["classes"].append("tutorial-changed")
        return result


class TutorialDownload(SphinxDirective):
    """A ready file: a download link, and the interface the part relies on."""

    required_arguments = 1
    has_content = False
    option_spec = options("source", "interface")

    def run(self):
        try:
            step = file_step(
                self.arguments[0], given_options(self), self.lineno, ready=True
            )
        except PageError as exc:
            raise self.error(str(exc)) from None
        path = Path(self.env.srcdir) / step.source
        if not path.is_file():
            raise self.error(f":source: {step.source} does not exist")
        text = path.read_text(encoding="utf-8")
        name = Path(step.destination).name
        link = addnodes.download_reference(
            "",
            "",
            nodes.literal(name, name),
            reftarget="/" + step.source,
            refdoc=self.env.docname,
            refexplicit=True,
        )
        paragraph = nodes.paragraph(
            "",
            "",
            nodes.Text("Download "),
            link,
            nodes.Text(f" ({len(text.splitlines())} lines) and save it as "),
            nodes.literal(step.destination, step.destination),
            nodes.Text("."),
            classes=["tutorial-download"],
        )
        result = [paragraph]
        if step.interface:
            try:
                shown = interface(text, step.interface)
            except (KeyError, SyntaxError) as exc:
                raise self.error(f"{step.source}: {exc}") from None
            block = nodes.literal_block(shown, shown, language=step.language)
            block["classes"].append("tutorial-interface")
            block["source"] = str(path)  # included from the file, for blockcheck
            self.set_source_info(block)
            result.append(block)
        return result


class TutorialShell(SphinxDirective):
    has_content = True
    option_spec = options(
        "server", "replay", "reason", "replay-env", "django", "exit", "timeout", "needs"
    )

    def run(self):
        given = {name: str(value or "").strip() for name, value in self.options.items()}
        try:
            step = shell_step(given, list(self.content), self.lineno)
        except PageError as exc:
            raise self.error(str(exc)) from None
        text = "\n".join(
            line
            for command in step.commands
            for line in [f"$ {command.line}", *command.expected]
        )
        block = nodes.literal_block(text, text, language="console")
        block["classes"].append("tutorial-shell")
        if step.server:
            block["classes"].append("tutorial-server")
        self.set_source_info(block)
        if step.django is None:
            return [block]
        operator, (major, minor) = step.django
        when = "and later" if operator == "since" else "and earlier"
        if operator == "before":
            # "<6.0" is the supported release before it: 5.2 LTS here.
            major, minor = (major - 1, 2) if minor == 0 else (major, minor - 1)
        label = nodes.paragraph(
            "", "", nodes.strong("", f"On Django {major}.{minor} {when}:")
        )
        container = nodes.container(
            "", label, block, classes=["tutorial-version", "django-version"]
        )
        return [container]


class TutorialProject(SphinxDirective):
    """The project as it stands after this part, as a zip built with the site."""

    has_content = False

    def run(self):
        page = Path(self.env.doc2path(self.env.docname))
        if not page.name[:2].isdigit():
            raise self.error("tutorial-project belongs on a numbered part (NN-*.md)")
        name = zip_name(page)
        link = nodes.reference("", "", nodes.literal(name, name))
        link["refuri"] = "../" * self.env.docname.count("/") + f"{ZIP_DIRECTORY}/{name}"
        text = (
            ". It holds every file the parts so far had you write or download."
            " To continue from it, save it in an empty directory and run there:"
        )
        paragraph = nodes.paragraph(
            "",
            "",
            nodes.Text("The project as it stands now: "),
            link,
            nodes.Text(text),
            classes=["tutorial-project"],
        )
        recipe = "\n".join(f"$ {command}" for command in catch_up(page))
        block = nodes.literal_block(recipe, recipe, language="console")
        block["classes"].append("tutorial-catch-up")
        self.set_source_info(block)
        return [paragraph, block]


class TutorialPace(SphinxDirective):
    """A table of what each part of this directory asks: written, downloaded."""

    has_content = False

    def run(self):
        page = Path(self.env.doc2path(self.env.docname))
        root = Path(self.env.srcdir)
        measured = []
        for part in parts_of(page.parent):
            self.env.note_dependency(str(part))
            measured.append(pace(part, root))
        rows = [
            ("Part", "Lines you write", "Lines you download"),
            *((m.part, str(m.written), str(m.downloaded)) for m in measured),
            (
                "In all",
                str(sum(m.written for m in measured)),
                str(sum(m.downloaded for m in measured)),
            ),
        ]
        group = nodes.tgroup(cols=3)
        group.extend(nodes.colspec(colwidth=1) for _ in rows[0])
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        for index, cells in enumerate(rows):
            row = nodes.row()
            for cell in cells:
                row += nodes.entry("", nodes.paragraph(cell, cell))
            (head if index == 0 else body).append(row)
        return [nodes.table("", group, classes=["tutorial-pace"])]


def write_project_zips(app, exception) -> None:
    """Zip the project after each part that offers it (HTML builds only)."""
    if exception is not None or app.builder.format != "html":
        return
    root = Path(app.srcdir)
    target = Path(app.outdir) / ZIP_DIRECTORY
    for docname in sorted(app.env.found_docs):
        page = Path(app.env.doc2path(docname))
        if page.suffix != ".md" or "{tutorial-project}" not in page.read_text():
            continue
        target.mkdir(parents=True, exist_ok=True)
        (target / zip_name(page)).write_bytes(project_zip(page, root))


def setup(app):
    app.add_directive("tutorial-file", TutorialFile)
    app.add_directive("tutorial-download", TutorialDownload)
    app.add_directive("tutorial-shell", TutorialShell)
    app.add_directive("tutorial-project", TutorialProject)
    app.add_directive("tutorial-pace", TutorialPace)
    app.connect("build-finished", write_project_zips)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
