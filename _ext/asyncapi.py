"""Find the async API of the installed Django, by introspection.

Three kinds of thing count as async API here:

- **callables**: every coroutine function, async generator function and
  ``__aiter__`` that Django defines at the top level of a module or in a class
  body, found by importing every module of Django (GeoDjango and the backends of
  databases whose driver is missing excepted) with every contrib app installed;
  the related managers, which Django builds inside factory functions, are built
  here the same way;
- **overrides** of those in subclasses (``ModelBackend.aauthenticate``
  overrides ``BaseBackend.aauthenticate``) are folded into the method they
  override: they are one API, implemented per backend;
- **decorators**: every public name that a module of view decorators defines,
  applied to an ``async def`` view to see whether the result is still a
  coroutine function.

For each callable, :func:`how_it_runs` reads the source: a call to
``sync_to_async`` that wraps the method's sync twin (``aget`` wraps ``get``) is
one thread hop; other ``sync_to_async`` calls are hops of another shape;
no ``sync_to_async`` but awaits of other methods means it hops only through
them; neither means native.

This configures Django with settings of its own, so it runs in a process of its
own: ``python -m _ext.asyncapi`` prints what it finds as JSON (see
:mod:`_ext.asynccatalogue`, which renders it).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import sys
import textwrap
import types
from pathlib import Path

# Modules whose names start with one of these are not imported: GeoDjango needs
# GDAL and GEOS, the others need a database driver this site does not install,
# and project or app templates are not modules.
SKIPPED_PREFIXES = (
    "django.contrib.gis",
    "django.db.backends.mysql",
    "django.db.backends.oracle",
    "django.conf.app_template",
    "django.conf.project_template",
    "django.conf.locale",
)
# Dunder methods that are part of a public async protocol.
ASYNC_DUNDERS = {"__aiter__", "__anext__", "__aenter__", "__aexit__", "__call__"}
# Modules of view decorators: each public name they define is checked.
DECORATOR_MODULES = (
    "django.views.decorators.cache",
    "django.views.decorators.clickjacking",
    "django.views.decorators.common",
    "django.views.decorators.csp",
    "django.views.decorators.csrf",
    "django.views.decorators.debug",
    "django.views.decorators.gzip",
    "django.views.decorators.http",
    "django.views.decorators.vary",
    "django.contrib.auth.decorators",
    "django.contrib.admin.views.decorators",
    "django.utils.decorators",
)
HOP_FUNCTIONS = {"sync_to_async", "database_sync_to_async"}


def configure_django() -> None:
    """Every contrib app but GeoDjango, so that every model module imports."""
    import django
    from django.conf import settings

    apps = [
        "admin",
        "admindocs",
        "auth",
        "contenttypes",
        "flatpages",
        "humanize",
        "messages",
        "postgres",
        "redirects",
        "sessions",
        "sitemaps",
        "sites",
        "staticfiles",
        "syndication",
    ]
    settings.configure(
        INSTALLED_APPS=[f"django.contrib.{app}" for app in apps],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        STATIC_URL="static/",
    )
    django.setup()


def django_module_names() -> list[str]:
    import django

    root = Path(django.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if "migrations" in parts or name.startswith(SKIPPED_PREFIXES):
            continue
        names.append(name)
    return names


def is_async(func) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def unwrap(attribute):
    if isinstance(attribute, (classmethod, staticmethod)):
        return attribute.__func__
    return attribute


def async_members(cls) -> dict[str, types.FunctionType]:
    """The async methods that ``cls`` itself defines (not inherited ones)."""
    members = {}
    for name, attribute in vars(cls).items():
        func = unwrap(attribute)
        if not isinstance(func, types.FunctionType):
            continue
        if name.startswith("_") and name not in ASYNC_DUNDERS:
            continue
        if name == "__aiter__" or is_async(func):
            members[name] = func
    return members


def overridden(cls, name: str) -> str | None:
    """The qualified name of the async method that ``cls.name`` overrides."""
    for base in cls.__mro__[1:]:
        func = unwrap(vars(base).get(name))
        if isinstance(func, types.FunctionType) and (
            name == "__aiter__" or is_async(func)
        ):
            return f"{base.__module__}.{base.__qualname__}.{name}"
    return None


def how_it_runs(func, name: str) -> dict:
    """Classify ``func`` from its source: see the module's docstring.

    ``wraps`` lists what its ``sync_to_async`` calls run in a thread, ``awaits``
    the other methods it awaits (``async for`` awaits ``__aiter__``).
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    aliases = local_aliases(tree)
    wraps, awaits = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and called_name(node.func) in HOP_FUNCTIONS:
            wraps.add(ast.unparse(node.args[0]) if node.args else "")
        elif isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            callee = called_name(node.value.func)
            callee = aliases.get(callee, callee)
            if callee and callee not in HOP_FUNCTIONS:
                awaits.add(callee)
        elif isinstance(node, ast.AsyncFor) or (
            isinstance(node, ast.comprehension) and node.is_async
        ):
            awaits.add("__aiter__")
    twin = name[1:] if name.startswith("a") else None
    if wraps and wraps <= {f"self.{twin}", f"cls.{twin}", twin}:
        runs, wraps = "wraps", {twin}
    elif wraps:
        runs = "hops"
    else:
        runs = "awaits" if awaits else "native"
    return {"runs": runs, "wraps": sorted(wraps), "awaits": sorted(awaits)}


def local_aliases(tree) -> dict[str, str]:
    """Local names bound to a method: ``c = getattr(x, "acount", None)``."""
    aliases = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not isinstance(target, ast.Name):
            continue
        if (
            isinstance(value, ast.Call)
            and called_name(value.func) == "getattr"
            and len(value.args) >= 2
            and isinstance(value.args[1], ast.Constant)
        ):
            aliases[target.id] = str(value.args[1].value)
        elif isinstance(value, ast.Attribute):
            aliases[target.id] = value.attr
    return aliases


def called_name(node) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def module_callables(module_name: str, found: dict, folded: dict) -> None:
    module = importlib.import_module(module_name)
    for attr, obj in vars(module).items():
        if attr.startswith("_"):
            continue
        # type(), not isinstance(): a lazy object (staticfiles' storage) would
        # set itself up, and fail, if asked for its class.
        if type(obj) is types.FunctionType:
            if obj.__module__ == module_name and is_async(obj):
                found[f"{module_name}.{attr}"] = how_it_runs(obj, attr)
        elif issubclass(type(obj), type) and obj.__module__ == module_name:
            class_callables(obj, found, folded)


def class_callables(cls, found: dict, folded: dict) -> None:
    prefix = f"{cls.__module__}.{cls.__qualname__}"
    for name, func in async_members(cls).items():
        base = overridden(cls, name)
        if base:
            folded[f"{prefix}.{name}"] = base
        else:
            found[f"{prefix}.{name}"] = how_it_runs(func, name)


def related_manager_classes() -> list[type]:
    """The classes Django builds for related managers, built here likewise."""
    from django.contrib.auth.models import Group, User
    from django.contrib.contenttypes.fields import create_generic_related_manager
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Manager

    return [
        ContentType.permission_set.related_manager_cls,  # reverse foreign key
        User.groups.related_manager_cls,  # many-to-many, forward
        Group.user_set.related_manager_cls,  # many-to-many, reverse
        # Its class body does not use the relation; its methods do.
        create_generic_related_manager(Manager, rel=None),
    ]


def public_definitions(module) -> list[str]:
    """The public names a module defines itself (def or assignment)."""
    tree = ast.parse(inspect.getsource(module))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [name for name in names if not name.startswith("_")]


async def async_view(request):
    """The view every decorator wraps."""


class AsyncMethods:
    async def get(self, request):
        """The method ``method_decorator`` wraps."""


def decorator_recipes():
    """How to apply each kind of decorator to a view (named in the table)."""
    from django.views.decorators.cache import never_cache

    return {
        "direct": lambda decorator: decorator(async_view),
        "no-arguments": lambda decorator: decorator()(async_view),
        "timeout": lambda decorator: decorator(60)(async_view),
        "max-age": lambda decorator: decorator(max_age=60)(async_view),
        "methods": lambda decorator: decorator(["GET"])(async_view),
        "header": lambda decorator: decorator("Accept")(async_view),
        "request-function": lambda decorator: decorator(lambda request: None)(
            async_view
        ),
        "user-test": lambda decorator: decorator(lambda user: True)(async_view),
        "permission": lambda decorator: decorator("auth.view_user")(async_view),
        "config": lambda decorator: decorator({})(async_view),
        "method": lambda decorator: decorator(never_cache)(AsyncMethods.get),
    }


def decorators(recipes_by_name: dict[str, str]) -> dict:
    """Each public name in DECORATOR_MODULES, applied by its recipe."""
    from asgiref.sync import iscoroutinefunction

    recipes = decorator_recipes()
    found = {}
    for module_name in DECORATOR_MODULES:
        if importlib.util.find_spec(module_name) is None:
            continue  # a module newer than the installed Django
        module = importlib.import_module(module_name)
        for attr in public_definitions(module):
            name = f"{module_name}.{attr}"
            recipe = recipes_by_name.get(name)
            if recipe not in recipes:
                found[name] = {"runs": "unknown"}
                continue
            wrapped = recipes[recipe](getattr(module, attr))
            runs = "keeps-async" if iscoroutinefunction(wrapped) else "makes-sync"
            found[name] = {"runs": runs}
    return found


def discover(recipes_by_name: dict[str, str] | None = None) -> dict:
    """Everything this module finds: see its docstring."""
    callables, folded, failed = {}, {}, {}
    for module_name in django_module_names():
        try:
            module_callables(module_name, callables, folded)
        except ImportError as error:
            failed[module_name] = str(error)
    for cls in related_manager_classes():
        class_callables(cls, callables, folded)
    return {
        "callables": callables,
        "folded": folded,
        "decorators": decorators(recipes_by_name or {}),
        "not_imported": failed,
    }


def main(argv: list[str]) -> int:
    try:
        recipes = json.loads(argv[0]) if argv else {}
        if not isinstance(recipes, dict):
            raise ValueError("not an object")
    except ValueError as error:
        print(
            'usage: python -m _ext.asyncapi [\'{"decorator": "recipe", ...}\']'
            f"\nthe argument must be a JSON object ({error})",
            file=sys.stderr,
        )
        return 2
    configure_django()
    json.dump(discover(recipes), sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
