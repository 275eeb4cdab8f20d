"""The async API catalogue (docs/reference/async-api.md) against the installed Django.

The catalogue is the table docs/reference/async-api.toml, rendered by
_ext/asynccatalogue.py with what _ext/asyncapi.py finds in the installed Django.
These tests run on Django 6.1 (Python 3.13) and Django 5.2 (Python 3.11): on
each, the table and the installed Django must agree exactly; an async method
that a future release adds fails until the table classifies it; and the "how
it runs" column is checked against the thread hops a sample of the APIs makes
(counted with snippets/internals/hops.py).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap

import django
import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import caches
from django.dispatch import Signal
from sphinx.util.inventory import InventoryFile

from _ext.asynccatalogue import (
    TABLE,
    Catalogue,
    differences,
    discover,
    label_for,
    version_tuple,
)
from snippets.internals.hops import count_hops
from tests.support.sphinx import ROOT, sphinx_build, write_project

INVENTORY = ROOT / "_inv" / "django-6.1.inv"
QUERYSET = "django.db.models.query.QuerySet"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


@pytest.fixture(scope="module")
def found(catalogue) -> dict:
    return discover(catalogue)


def runs(found, name: str) -> str:
    return found["callables"][name]["runs"]


def test_the_catalogue_matches_the_installed_django(catalogue, found):
    assert differences(catalogue, found, django.VERSION) == []
    # Every module of Django imported (GeoDjango and missing drivers aside).
    assert found["not_imported"] == {}


def test_a_new_async_method_fails_until_it_is_classified(catalogue, tmp_path):
    # A future release adds QuerySet.areticulate(): discovery runs in a
    # process of its own, so the patch goes into a module that process runs.
    patch = tmp_path / "future_django.py"
    patch.write_text(
        textwrap.dedent(
            """
            import json, sys
            from asgiref.sync import sync_to_async
            from _ext import asyncapi

            asyncapi.configure_django()
            from django.db.models.query import QuerySet

            async def areticulate(self):
                return await sync_to_async(self.reticulate)()

            QuerySet.areticulate = areticulate
            json.dump(asyncapi.discover(json.loads(sys.argv[1])), sys.stdout)
            """
        )
    )
    process = subprocess.run(
        [sys.executable, str(patch), json.dumps(catalogue.recipes())],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert process.returncode == 0, process.stderr
    future = json.loads(process.stdout)
    name = f"{QUERYSET}.areticulate"
    assert future["callables"][name]["runs"] == "wraps"
    assert differences(catalogue, future, django.VERSION) == [
        f"{name} is an async callable in Django "
        f"{django.VERSION[0]}.{django.VERSION[1]} that the table does not classify:"
        " add it to [api] or [internal]"
    ]
    # Classified, it passes.
    classified = copy.deepcopy(catalogue)
    release = f"{django.VERSION[0]}.{django.VERSION[1]}"
    classified.apis[name] = {"group": "queryset", "since": release, "ref": QUERYSET}
    assert differences(classified, future, django.VERSION) == []


def test_a_since_that_the_installed_django_contradicts_fails(catalogue, found):
    wrong = copy.deepcopy(catalogue)
    wrong.apis[f"{QUERYSET}.aget"]["since"] = "9.0"
    assert differences(wrong, found, django.VERSION) == [
        f"{QUERYSET}.aget is new in Django 9.0 by the table, but Django "
        f"{django.VERSION[0]}.{django.VERSION[1]} already has it"
    ]
    missing = copy.deepcopy(found)
    del missing["callables"][f"{QUERYSET}.aget"]
    assert differences(catalogue, missing, django.VERSION) == [
        f"{QUERYSET}.aget is new in Django 4.1 by the table, but Django "
        f"{django.VERSION[0]}.{django.VERSION[1]} does not have it"
    ]


def test_the_6_0_apis_are_absent_on_5_2_and_present_on_6_1(catalogue, found):
    newer = [
        name
        for name, entry in catalogue.apis.items()
        if version_tuple(entry["since"]) > (5, 2)
    ]
    assert "django.core.paginator.AsyncPaginator.apage" in newer
    present = [name for name in newer if name in found["callables"]]
    assert present == (newer if django.VERSION >= (6, 0) else [])


def test_a_decorator_that_stops_keeping_async_fails(catalogue, found):
    name = "django.views.decorators.cache.never_cache"
    assert found["decorators"][name] == {"runs": "keeps-async"}
    broken = copy.deepcopy(found)
    broken["decorators"][name] = {"runs": "makes-sync"}
    [problem] = differences(catalogue, broken, django.VERSION)
    assert problem.startswith(f"{name} keeps an async view async since 5.0")


def test_every_link_target_is_in_djangos_inventory(catalogue):
    with INVENTORY.open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, path: path)
    documented = {name for objects in inventory.values() for name in objects}
    targets = [entry["ref"] for entry in catalogue.apis.values()]
    targets += [entry.get("ref", name) for name, entry in catalogue.decorators.items()]
    assert [target for target in targets if target not in documented] == []


def test_labels_name_the_class_and_method():
    assert label_for(f"{QUERYSET}.aget") == "QuerySet.aget()"
    assert label_for(f"{QUERYSET}.__aiter__") == "async for … in QuerySet"
    assert label_for("django.shortcuts.aget_object_or_404") == ("aget_object_or_404()")
    related = (
        "django.db.models.fields.related_descriptors."
        "create_reverse_many_to_one_manager.<locals>.RelatedManager.aadd"
    )
    assert label_for(related) == "RelatedManager.aadd()"


def test_a_broken_table_is_a_clear_error(tmp_path):
    bad = tmp_path / "async-api.toml"
    bad.write_text('[api."x.y"]\ngroup = "nowhere"\nsince = "5.0"\nref = "x"\n')
    with pytest.raises(ValueError, match=r"unknown group 'nowhere'"):
        Catalogue.load(bad)
    bad.write_text('[api."x.y"\n')
    with pytest.raises(ValueError, match="cannot read the async API table"):
        Catalogue.load(bad)
    bad.write_text('[group.g]\ntitle = "G"\n[api."x.y"]\ngroup = "g"\nsince = "5"\n')
    with pytest.raises(ValueError, match=r"since must be a release like 5\.0"):
        Catalogue.load(bad)
    assert TABLE.exists()


# How it runs: the classification against the hops each call makes.


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_one_hop_apis_make_exactly_one_thread_hop(found):
    user = await User.objects.acreate(username="catalogue")
    cache = caches["default"]
    calls = {
        f"{QUERYSET}.acount": lambda: User.objects.acount(),
        f"{QUERYSET}.aexists": lambda: User.objects.filter(pk=user.pk).aexists(),
        "django.db.models.base.Model.arefresh_from_db": lambda: user.arefresh_from_db(),
        "django.db.models.base.Model.asave": lambda: user.asave(),
        "django.core.cache.backends.base.BaseCache.aget": lambda: cache.aget("k"),
        "django.core.cache.backends.base.BaseCache.aset": lambda: cache.aset("k", 1),
    }
    for name, call in calls.items():
        assert runs(found, name) == "wraps", name
        with count_hops() as hops:
            await call()
        assert hops["sync_to_async"] == 1, name


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_native_apis_make_no_thread_hop(found):
    anonymous = AnonymousUser()
    calls = {
        "django.contrib.auth.models.AnonymousUser.aget_group_permissions": (
            anonymous.aget_group_permissions
        ),
    }
    if django.VERSION >= (6, 0):
        from django.core.paginator import AsyncPaginator

        page = await AsyncPaginator(["a", "b", "c"], 2).apage(1)
        calls["django.core.paginator.AsyncPage.ahas_previous"] = page.ahas_previous
    for name, call in calls.items():
        assert runs(found, name) == "native", name
        with count_hops() as hops:
            await call()
        assert hops["sync_to_async"] == 0, name


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_awaiting_apis_hop_only_through_what_they_await(found):
    # asend() awaits its receivers: with async ones only, no hop at all.
    signal = Signal()

    async def receiver(sender, **kwargs):
        return "heard"

    signal.connect(receiver, weak=False)
    name = "django.dispatch.dispatcher.Signal.asend"
    assert runs(found, name) == "awaits"
    with count_hops() as hops:
        assert await signal.asend(sender=None) == [(receiver, "heard")]
    assert hops["sync_to_async"] == 0
    # A sync receiver is one hop, through sync_to_async.
    signal.connect(sync_receiver, weak=False)
    with count_hops() as hops:
        await signal.asend(sender=None)
    assert hops["sync_to_async"] == 1

    # aget_object_or_404() awaits QuerySet.aget(): one hop, aget's.
    user = await User.objects.acreate(username="awaited")
    name = "django.shortcuts.aget_object_or_404"
    assert runs(found, name) == "awaits"
    assert "aget" in found["callables"][name]["awaits"]
    from django.shortcuts import aget_object_or_404

    with count_hops() as hops:
        assert await aget_object_or_404(User, pk=user.pk) == user
    assert hops["sync_to_async"] == 1


def sync_receiver(sender, **kwargs):
    return "heard in a thread"


# The directive, in a project of its own.

CONF = f"""
extensions = [
    "myst_parser",
    "sphinx.ext.intersphinx",
    "_ext.versionlabels",
    "_ext.asynccatalogue",
]
source_suffix = {{".md": "markdown"}}
django_docs = "https://docs.djangoproject.com/en/6.1/"
intersphinx_mapping = {{"django": (django_docs, {str(INVENTORY)!r})}}
"""


def build_page(tmp_path, page):
    srcdir = write_project(tmp_path / "src", CONF, {"index.md": page})
    return sphinx_build(srcdir, "html")


def test_the_directive_renders_links_labels_and_index_entries(tmp_path):
    page = "# Page\n\n```{async-api-catalogue} paginator\n```\n"
    # The other groups render on no page of this project: one warning each.
    result = sphinx_build(
        write_project(tmp_path / "src", CONF, {"index.md": page}), "html", strict=False
    )
    assert "no page renders the group 'queryset'" in result.output
    html = (result.outdir / "index.html").read_text()
    assert "New in Django 6.0" in html
    assert 'href="https://docs.djangoproject.com/en/6.1/releases/6.0/"' in html
    assert "AsyncPaginator.apage()" in html
    if django.VERSION >= (6, 0):
        assert "Awaits <code" in html
    else:
        assert "Not in Django 5.2, this build" in html
    index = (result.outdir / "genindex.html").read_text()
    assert "AsyncPaginator.apage() (async API)" in index


def test_an_unknown_group_is_a_clear_error(tmp_path):
    result = build_page(tmp_path, "# Page\n\n```{async-api-catalogue} views\n```\n")
    assert result.returncode != 0
    assert "unknown group 'views'; the table has: auth, cache," in result.output


def test_the_discovery_tool_refuses_a_bad_argument():
    process = subprocess.run(
        [sys.executable, "-m", "_ext.asyncapi", "[not json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert process.stderr.startswith("usage: python -m _ext.asyncapi")
    assert "Traceback" not in process.stderr
