"""Load every template at start-up, so that no request reads one from disk."""

from pathlib import Path

from django.forms.renderers import get_default_renderer
from django.template import TemplateSyntaxError, engines


def warm_templates() -> int:
    """Load every template once, so that no request reads one from disk.

    The cached loader keeps what it loaded: a template rendered later, from an
    async view on the event loop, costs no file I/O. Forms render through an
    engine of their own, so it is warmed too. Returns how many loaded.
    """
    loaded = 0
    for engine in [*engines.all(), get_default_renderer().engine]:
        for directory in map(Path, engine.template_dirs):
            for path in sorted(directory.rglob("*.html")):
                try:
                    engine.get_template(path.relative_to(directory).as_posix())
                except TemplateSyntaxError:
                    continue  # a fragment that parses only inside another
                loaded += 1
    return loaded
