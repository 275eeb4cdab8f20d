"""The tutorial's two directives: write this file, run these commands.

````md
```{tutorial-file} sampleproject/board/models.py
:source: sampleproject/board/models.py
```
````

shows the whole repository file ``:source:`` under the caption of the path the
reader writes it to (``:diff-from: <repository path>`` shows the change against
an earlier version instead); and

````md
```{tutorial-shell}
$ python manage.py check
System check identified no issues (0 silenced).
```
````

shows a console session. The replay test (``tests/tutorial/replay.py``) runs
the same directives from the same page source, so the page cannot promise what
the code does not do. The options and what the replay does with them are in
:mod:`_ext.tutorialpage`; this module only renders, after validating the
options with the same parser, so a block the replay would reject fails the build.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxDirective

from _ext.sourcequote import literal_caption
from _ext.tutorialpage import PageError, file_step, shell_step


def options(*names: str) -> dict:
    """Read every option as text; :mod:`_ext.tutorialpage` decides what is valid."""
    return {name: directives.unchanged for name in names}


class TutorialFile(LiteralInclude):
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    has_content = False
    option_spec = options("source", "diff-from", "language")

    def run(self):
        given = {name: str(value or "").strip() for name, value in self.options.items()}
        try:
            step = file_step(self.arguments[0], given, self.lineno)
        except PageError as exc:
            raise self.error(str(exc)) from None
        # Paths starting with "/" are relative to the source root: the repository.
        self.arguments = ["/" + step.source]
        self.options = {"caption": step.destination, "language": step.language}
        if step.diff_from:
            self.options["diff"] = "/" + step.diff_from
        # The path as text: parsed as markup, "__init__.py" shows as "init.py".
        result = literal_caption(super().run(), nodes.Text(step.destination))
        for node in result:
            for block in node.findall(nodes.literal_block):
                block["classes"].append("tutorial-file")
                block["tutorial_destination"] = step.destination
                if step.diff_from:
                    relabel_diff(block, step.destination)
        return result


def relabel_diff(block: nodes.literal_block, destination: str) -> None:
    """Name both sides of a diff by the reader's path, not this machine's."""
    lines = block.astext().split("\n")
    if len(lines) > 1 and lines[0].startswith("--- ") and lines[1].startswith("+++ "):
        lines[:2] = [f"--- {destination} (before)", f"+++ {destination} (after)"]
        text = "\n".join(lines)
        block.rawsource = text
        block.children = [nodes.Text(text)]


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


def setup(app):
    app.add_directive("tutorial-file", TutorialFile)
    app.add_directive("tutorial-shell", TutorialShell)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
