"""Version labels in the style of Django's docs.

````md
```{django-versionadded} 6.0
`AsyncPaginator` pages through a queryset with the async ORM.
```
````

renders "New in Django 6.0:" followed by the text; ``django-versionchanged``
renders "Changed in Django 6.0:". The label links to that release's notes in
Django's docs through intersphinx, so an unknown release fails the build. The
inline role ``{django-new}`6.0``` renders the label alone.
"""

import re

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective, SphinxRole

VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
PHRASES = {"added": "New in Django {}", "changed": "Changed in Django {}"}


def release_link(env, version: str, text: str) -> addnodes.pending_xref:
    """A reference to Django's release notes for ``version`` (e.g. releases/6.0)."""
    feature_release = ".".join(version.split(".")[:2])
    node = addnodes.pending_xref(
        "",
        nodes.inline(text, text, classes=["versionmodified"]),
        refdomain="std",
        reftype="doc",
        reftarget=f"django:releases/{feature_release}",
        refexplicit=True,
        refwarn=True,
        refdoc=env.docname,
    )
    return node


class DjangoVersionDirective(SphinxDirective):
    kind = "added"
    required_arguments = 1
    has_content = True

    def run(self):
        version = self.arguments[0]
        if not VERSION.match(version):
            raise self.error(f"expected a Django version like 6.0, got {version!r}")
        container = nodes.container(classes=["django-version", f"version{self.kind}"])
        label = nodes.paragraph()
        text = PHRASES[self.kind].format(version) + (":" if self.content else ".")
        label += release_link(self.env, version, text)
        container += label
        self.state.nested_parse(self.content, self.content_offset, container)
        if self.content and len(container) > 1:
            # Merge the label into the first paragraph, as Django's docs do.
            first = container[1]
            if isinstance(first, nodes.paragraph):
                container.remove(label)
                first.insert(0, nodes.Text(" "))
                first.insert(0, label.children[0])
        return [container]


class DjangoVersionAdded(DjangoVersionDirective):
    kind = "added"


class DjangoVersionChanged(DjangoVersionDirective):
    kind = "changed"


class DjangoNewRole(SphinxRole):
    def run(self):
        version = self.text.strip()
        if not VERSION.match(version):
            msg = self.inliner.reporter.error(
                f"expected a Django version like 6.0, got {version!r}", line=self.lineno
            )
            return [], [msg]
        return [release_link(self.env, version, PHRASES["added"].format(version))], []


def setup(app):
    app.add_directive("django-versionadded", DjangoVersionAdded)
    app.add_directive("django-versionchanged", DjangoVersionChanged)
    app.add_role("django-new", DjangoNewRole())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
