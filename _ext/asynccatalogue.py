"""The async API catalogue: Django's async API, found in the installed Django.

````md
```{async-api-catalogue} queryset
```
````

renders one group of the table in ``docs/reference/async-api.toml`` (the
groups are its ``[group.<id>]`` sections) as a table: each API with a link to
Django's documentation, the release it arrived in ("New in Django 6.0" when
the oldest supported release lacks it) and how it runs, which
:mod:`_ext.asyncapi` reads from the installed Django's source. Each API gets a
general index entry.

Once per build the extension runs :mod:`_ext.asyncapi` in a process of its own
and compares what it finds with the table (:func:`differences`); each
difference is a warning, so ``-W`` fails the build on a Django whose async API
the table does not describe. A group that no page renders is a warning too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import django
from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from _ext.perdoc import track_per_document
from _ext.versionlabels import release_link

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "reference" / "async-api.toml"
# The oldest Django the site supports: an API newer than this is labelled.
OLDEST_SUPPORTED = (5, 2)
logger = logging.getLogger(__name__)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass
class Catalogue:
    """The committed table: groups, APIs, decorators, and what is left out."""

    groups: dict[str, dict]
    apis: dict[str, dict]
    decorators: dict[str, dict]
    internal: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = TABLE) -> Catalogue:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            message = f"cannot read the async API table {path}: {error}"
            raise ValueError(message) from error
        catalogue = cls(
            data.get("group", {}),
            data.get("api", {}),
            data.get("decorator", {}),
            data.get("internal", {}),
        )
        catalogue.check()
        return catalogue

    def check(self) -> None:
        """Every entry names a known group and a release like 5.0."""
        for name, entry in {**self.apis, **self.decorators}.items():
            since = entry.get("since", "")
            if not since.replace(".", "").isdigit() or since.count(".") != 1:
                raise ValueError(f"{name}: since must be a release like 5.0")
        for name, entry in self.apis.items():
            if entry.get("group") not in self.groups:
                raise ValueError(f"{name}: unknown group {entry.get('group')!r}")
            if not entry.get("ref"):
                raise ValueError(f"{name}: ref names what to link to")

    def recipes(self) -> dict[str, str]:
        return {name: entry["apply"] for name, entry in self.decorators.items()}


def discover(catalogue: Catalogue, python: str = sys.executable) -> dict:
    """What :mod:`_ext.asyncapi` finds in the Django that ``python`` imports."""
    process = subprocess.run(
        [python, "-m", "_ext.asyncapi", json.dumps(catalogue.recipes())],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if process.returncode != 0:
        raise RuntimeError(f"_ext.asyncapi failed:\n{process.stderr}")
    return json.loads(process.stdout)


def differences(catalogue: Catalogue, found: dict, version: tuple) -> list[str]:
    """How the table and the installed Django (``version``) disagree."""
    problems = []
    release = ".".join(map(str, version[:2]))
    callables, decorators = found["callables"], found["decorators"]
    for name in sorted(callables):
        if name not in catalogue.apis and name not in catalogue.internal:
            problems.append(
                f"{name} is an async callable in Django {release} that the table "
                "does not classify: add it to [api] or [internal]"
            )
    for name, entry in sorted(catalogue.apis.items()):
        expected = version[:2] >= version_tuple(entry["since"])
        if expected and name not in callables:
            problems.append(
                f"{name} is new in Django {entry['since']} by the table, "
                f"but Django {release} does not have it"
            )
        elif name in callables and not expected:
            problems.append(
                f"{name} is new in Django {entry['since']} by the table, "
                f"but Django {release} already has it"
            )
    for name, result in sorted(decorators.items()):
        if name in catalogue.internal:
            continue
        entry = catalogue.decorators.get(name)
        if entry is None or result["runs"] == "unknown":
            problems.append(
                f"{name} is a public name of a view decorator module in Django "
                f"{release} that the table does not classify: add it to "
                "[decorator] or [internal]"
            )
            continue
        keeps = result["runs"] == "keeps-async"
        if keeps != (version[:2] >= version_tuple(entry["since"])):
            problems.append(
                f"{name} keeps an async view async since {entry['since']} by the "
                f"table, but in Django {release} it "
                + ("does" if keeps else "does not")
            )
    for name, entry in sorted(catalogue.decorators.items()):
        due = version[:2] >= version_tuple(entry["since"])
        if due and name not in decorators:
            problems.append(f"{name} is missing from Django {release}")
    return problems


def label_for(name: str) -> str:
    """``QuerySet.aget()`` for ``django.db.models.query.QuerySet.aget``."""
    parts = [part for part in name.split(".") if part != "<locals>"]
    owner, method = parts[-2], parts[-1]
    if method == "__aiter__":
        return f"async for … in {owner}"
    if owner[0].islower():  # a function of a module
        return f"{method}()"
    return f"{owner}.{method}()"


def code_list(names: list[str]) -> list[nodes.Node]:
    result = []
    for index, name in enumerate(names):
        if index:
            result.append(nodes.Text(", "))
        shown = name if name.startswith("__") else f"{name}()"
        result.append(nodes.literal(shown, shown))
    return result


def how_it_runs(result: dict | None, release: str) -> list[nodes.Node]:
    """The "How it runs" cell for one API, from :func:`_ext.asyncapi.how_it_runs`."""
    if result is None:
        return [nodes.Text(f"Not in Django {release}, this build's version.")]
    runs, wraps, awaits = result["runs"], result["wraps"], result["awaits"]
    if runs == "wraps":
        cell = [nodes.Text("One hop: runs "), *code_list(wraps), nodes.Text(".")]
        if awaits:
            cell += [nodes.Text(" Or awaits "), *code_list(awaits), nodes.Text(".")]
        return cell
    if runs == "hops":
        cell = [
            nodes.Text("Hops: runs "),
            *code_list(wraps),
            nodes.Text(" in a thread"),
        ]
        if awaits:
            cell += [nodes.Text("; awaits "), *code_list(awaits)]
        return [*cell, nodes.Text(".")]
    if runs == "awaits":
        through = "it" if len(awaits) == 1 else "them"
        return [
            nodes.Text("Awaits "),
            *code_list(awaits),
            nodes.Text(f": hops only through {through}."),
        ]
    return [nodes.Text("Native: no thread hop.")]


def since_cell(env, since: str) -> nodes.Node:
    if version_tuple(since) > OLDEST_SUPPORTED:
        return release_link(env, since, f"New in Django {since}")
    return release_link(env, since, since)


def api_reference(env, target: str, text: str) -> nodes.Node:
    """A link to ``target`` in Django's documentation, through intersphinx."""
    return addnodes.pending_xref(
        "",
        nodes.literal(text, text),
        refdomain="py",
        reftype="obj",
        reftarget=target,
        refexplicit=True,
        refwarn=True,
        refdoc=env.docname,
    )


def table(headers: list[str], rows: list[list[list[nodes.Node]]]) -> nodes.table:
    tgroup = nodes.tgroup(cols=len(headers))
    for width in (34, 18, 48)[: len(headers)]:
        tgroup += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row(
        "", *(nodes.entry("", nodes.paragraph(text=header)) for header in headers)
    )
    body = nodes.tbody()
    for cells in rows:
        body += nodes.row(
            "", *(nodes.entry("", nodes.paragraph("", "", *cell)) for cell in cells)
        )
    tgroup += head
    tgroup += body
    result = nodes.table(classes=["async-api-catalogue"])
    result += tgroup
    return result


class AsyncApiCatalogue(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        group = self.arguments[0]
        try:
            catalogue, found = catalogue_and_findings(self.env.app)
        except (ValueError, RuntimeError) as error:
            raise self.error(str(error)) from error
        if group not in catalogue.groups:
            known = ", ".join(sorted(catalogue.groups))
            raise self.error(f"unknown group {group!r}; the table has: {known}")
        self.env.note_dependency(str(TABLE))
        self.env.asynccatalogue_groups[self.env.docname] = sorted(
            {*self.env.asynccatalogue_groups.get(self.env.docname, []), group}
        )
        release = ".".join(map(str, django.VERSION[:2]))
        if group == "decorators":
            rows, headers = self.decorator_rows(catalogue, found, release)
        else:
            rows, headers = self.api_rows(catalogue, found, group, release)
        return [*self.introduction(catalogue.groups[group]), table(headers, rows)]

    def introduction(self, group: dict) -> list[nodes.Node]:
        """The group's text from the table, and the release notes it cites."""
        result = self.parse_text_to_nodes(group["text"]) if "text" in group else []
        notes = nodes.paragraph("", "Release notes: ")
        for index, release in enumerate(group.get("notes", [])):
            if index:
                notes += nodes.Text(", ")
            notes += release_link(self.env, release, f"Django {release}")
        notes += nodes.Text(".")
        return [*result, notes]

    def anchored(self, name: str, label: str, link: nodes.Node) -> list[nodes.Node]:
        """The API cell: an index entry, its target, and the link."""
        anchor = "api-" + nodes.make_id(name)
        index = addnodes.index(
            entries=[("single", f"{label} (async API)", anchor, "", None)]
        )
        return [index, nodes.target("", "", ids=[anchor]), link]

    def api_rows(self, catalogue, found, group, release):
        rows = []
        for name, entry in sorted(
            catalogue.apis.items(), key=lambda item: label_for(item[0])
        ):
            if entry["group"] != group:
                continue
            label = label_for(name)
            link = api_reference(self.env, entry["ref"], label)
            rows.append(
                [
                    self.anchored(name, label, link),
                    [since_cell(self.env, entry["since"])],
                    how_it_runs(found["callables"].get(name), release),
                ]
            )
        return rows, ["API", "Since", "How it runs"]

    def decorator_rows(self, catalogue, found, release):
        rows = []
        for name, entry in sorted(
            catalogue.decorators.items(), key=lambda item: item[0].rsplit(".")[-1]
        ):
            label = name.rsplit(".", 1)[-1] + "()"
            link = api_reference(self.env, entry.get("ref", name), label)
            result = found["decorators"].get(name)
            if result is None:
                effect = f"Not in Django {release}, this build's version."
            elif result["runs"] == "keeps-async":
                effect = "Keeps an async view async."
            else:
                effect = "Makes an async view sync."
            rows.append(
                [
                    self.anchored(name, label, link),
                    [since_cell(self.env, entry["since"])],
                    [nodes.Text(effect)],
                ]
            )
        return rows, ["Decorator", "Keeps async since", "With this build's Django"]


def catalogue_and_findings(app) -> tuple[Catalogue, dict]:
    """Load the table and run the discovery once per build (then reuse them)."""
    cached = getattr(app, "_asynccatalogue", None)
    if cached is None:
        catalogue = Catalogue.load()
        found = discover(catalogue)
        for problem in differences(catalogue, found, django.VERSION):
            logger.warning("async API catalogue: %s", problem, type="asynccatalogue")
        cached = app._asynccatalogue = (catalogue, found)
    return cached


def on_env_get_outdated(app, env, added, changed, removed):
    """Read the catalogue's pages again when the installed Django changed."""
    if getattr(env, "asynccatalogue_django", None) != django.__version__:
        env.asynccatalogue_django = django.__version__
        pages = getattr(env, "asynccatalogue_groups", {})
        return [doc for doc in pages if doc not in removed]
    return []


def on_env_check_consistency(app, env):
    """Every group of the table is rendered on some page."""
    rendered = {
        group for groups in env.asynccatalogue_groups.values() for group in groups
    }
    if not rendered:
        return  # a build without the reference pages (the extension's tests)
    for group in sorted(set(Catalogue.load().groups) - rendered):
        logger.warning(
            "async API catalogue: no page renders the group %r",
            group,
            type="asynccatalogue",
        )


def setup(app):
    track_per_document(app, "asynccatalogue_groups")
    app.connect("env-get-outdated", on_env_get_outdated)
    app.connect("env-check-consistency", on_env_check_consistency)
    app.add_directive("async-api-catalogue", AsyncApiCatalogue)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
