"""What a tutorial part asks of the reader, and the project it leaves behind.

Three things are computed here from the page sources alone (no Sphinx import),
so the site, the replay and the tests agree on them:

- the lines a change adds to a file (the page highlights them);
- the pace of a part: the lines the reader writes and the lines downloaded;
- the project as it stands after a part, as a zip of the files its steps write.

**Written lines**, as the pace test limits them: for a ``tutorial-file`` block
shown whole, its non-blank lines; for one with ``:diff-from:``, the non-blank
lines it adds or changes (the lines the page highlights); for each replayed
``tutorial-shell`` block, one line per ``$`` command the reader types (output
is read, not written; ``:replay: skip`` blocks are alternatives, not counted).
A **block** is one ``tutorial-file``, measured the same way. **Downloaded
lines** are the non-blank lines of each ``tutorial-download`` file. Blank lines
are left out because nobody types them; comments count, because the reader
copies them.
"""

from __future__ import annotations

import ast
import difflib
import io
import shlex
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from _ext.tutorialpage import FileStep, ShellStep, parse_page

# Inside the zip, files sit in the directory part 1 creates.
PROJECT_DIRECTORY = "statusboard"
# Zip entries get one fixed time, so the same files always make the same zip.
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def changed_lines(old: str, new: str) -> list[int]:
    """1-based numbers of the lines of ``new`` that ``old`` does not have there."""
    matcher = difflib.SequenceMatcher(
        None, old.splitlines(), new.splitlines(), autojunk=False
    )
    return [
        number + 1
        for tag, _, _, start, end in matcher.get_opcodes()
        if tag in ("replace", "insert")
        for number in range(start, end)
    ]


def read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")


def block_lines(step: FileStep, root: Path) -> int:
    """The non-blank lines this file block asks for (see the module docstring)."""
    new = read(root, step.source).splitlines()
    if step.diff_from:
        numbers = changed_lines(read(root, step.diff_from), read(root, step.source))
        return sum(1 for number in numbers if new[number - 1].strip())
    return sum(1 for line in new if line.strip())


@dataclass
class Pace:
    part: str
    written: int = 0
    downloaded: int = 0
    commands: int = 0
    blocks: list[tuple[str, int]] = field(default_factory=list)  # written files

    @property
    def largest(self) -> tuple[str, int]:
        return max(self.blocks, key=lambda block: block[1], default=("", 0))


def pace(page: Path, root: Path) -> Pace:
    measured = Pace(page.stem)
    for step in parse_page(page.read_text(encoding="utf-8")):
        if isinstance(step, ShellStep):
            if not step.skip_reason:
                measured.commands += len(step.commands)
                measured.written += len(step.commands)
        elif step.ready:
            measured.downloaded += block_lines(step, root)
        else:
            lines = block_lines(step, root)
            measured.blocks.append((step.destination, lines))
            measured.written += lines
    return measured


def interface(text: str, names: tuple[str, ...]) -> str:
    """The signature and the docstring's first line of each named definition."""
    tree = ast.parse(text)
    lines = text.splitlines()
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node
    shown = []
    for name in names:
        node = found.get(name)
        if node is None:
            raise KeyError(f"no top-level {name!r} in the file")
        if isinstance(node, ast.Assign | ast.AnnAssign):
            shown.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
            continue
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        header = lines[first - 1 : node.body[0].lineno - 1]
        doc = ast.get_docstring(node)
        indent = " " * (node.col_offset + 4)
        body = f'{indent}"""{doc.splitlines()[0]}"""' if doc else f"{indent}..."
        shown.append("\n".join([*header, body]))
    return "\n\n".join(shown)


def parts_of(directory: Path) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]-*.md"))


def removed_paths(command: str) -> list[str]:
    """The files an ``rm`` command names (options left out); [] for other commands."""
    words = shlex.split(command)
    if not words or words[0] != "rm":
        return []
    return [word for word in words[1:] if not word.startswith("-")]


def project_after(page: Path) -> dict[str, str]:
    """``{path in the project: repository path}`` for every file written so far.

    The pages of ``page``'s directory are taken in order up to ``page``; a later
    step writing the same path replaces the earlier one, and an ``rm`` the page
    has the reader run removes it, as for the reader.
    """
    files: dict[str, str] = {}
    for part in parts_of(page.parent):
        for step in parse_page(part.read_text(encoding="utf-8")):
            if isinstance(step, FileStep):
                files[step.destination] = step.source
            elif not step.skip_reason:
                for command in step.commands:
                    for path in removed_paths(command.line):
                        files.pop(path, None)
        if part.name == page.name:
            return files
    raise ValueError(f"{page} is not a numbered tutorial part")


def project_zip(page: Path, root: Path) -> bytes:
    """The files written up to ``page``, zipped under ``statusboard/``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for destination, source in sorted(project_after(page).items()):
            entry = zipfile.ZipInfo(f"{PROJECT_DIRECTORY}/{destination}", ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, (root / source).read_bytes())
    return buffer.getvalue()


def zip_name(page: Path) -> str:
    return f"statusboard-after-part-{page.name[:2]}.zip"


def catch_up(page: Path) -> list[str]:
    """The commands that turn the zip of ``page`` into a project that runs.

    The zip holds the files the pages gave; ``startproject``, ``startapp`` and
    ``makemigrations`` make the rest, as they did for the reader.
    """
    commands = [
        f"mkdir {PROJECT_DIRECTORY}",
        f"cd {PROJECT_DIRECTORY}",
        "django-admin startproject sampleproject .",
        "mkdir sampleproject/board",
        "django-admin startapp board sampleproject/board",
        "rm sampleproject/board/views.py sampleproject/board/tests.py",
    ]
    if "sampleproject/settings/__init__.py" in project_after(page):
        commands.append("rm sampleproject/settings.py")  # a package replaced it
    return [
        *commands,
        f"python -m zipfile -e ../{zip_name(page)} ..",
        "python manage.py makemigrations board",
        "python manage.py migrate",
    ]
