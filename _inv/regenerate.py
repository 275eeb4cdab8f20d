"""Regenerate the committed intersphinx inventories in _inv/.

Run from the repository root:

    .venv/3.13/bin/python _inv/regenerate.py [--only django|python]

django-6.1.inv  is built with Sphinx (dirhtml builder, the URL style of
                docs.djangoproject.com) from the docs/ directory of the Django
                sdist pinned in requirements.txt, downloaded from PyPI.
python-3.13.inv is copied out of Debian trixie's python3.13-doc package.

Downloads and build trees go to _inv/build/ (gitignored). SOURCES.md records
where each inventory came from. Only package registries are contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

INV_DIR = Path(__file__).resolve().parent
ROOT = INV_DIR.parent
BUILD = INV_DIR / "build"
SOURCES = INV_DIR / "SOURCES.md"
REQUIREMENTS = ROOT / "requirements.txt"

PYPI_SIMPLE = "https://pypi.org/simple/{name}/"
DEBIAN = "https://deb.debian.org/debian"
DEBIAN_PACKAGES = f"{DEBIAN}/dists/trixie/main/binary-all/Packages.xz"
DEBIAN_PACKAGE = "python3.13-doc"
PYTHON_INV_IN_DEB = "usr/share/doc/python3.13/html/objects.inv"

DJANGO_INV = INV_DIR / "django-6.1.inv"
PYTHON_INV = INV_DIR / "python-3.13.inv"

# (domain:role, name) pairs each inventory must contain; the build fails if not.
DJANGO_EXPECTED = [
    ("py:method", "django.db.models.query.QuerySet.aget"),
    ("py:class", "django.http.StreamingHttpResponse"),
    ("py:exception", "django.core.exceptions.SynchronousOnlyOperation"),
    ("py:function", "asgiref.sync.sync_to_async"),
    ("py:function", "asgiref.sync.async_to_sync"),
    ("std:doc", "topics/async"),
    ("std:doc", "releases/6.0"),
    ("std:doc", "releases/5.2"),
]
PYTHON_EXPECTED = [
    ("py:class", "asyncio.TaskGroup"),
    ("py:function", "asyncio.gather"),
    ("py:function", "asyncio.timeout"),
    ("py:class", "contextvars.ContextVar"),
    ("py:class", "threading.local"),
]

# Django's conf.py is moved aside and run from this wrapper, so that the build
# needs neither the network (intersphinx) nor uninstalled extensions.
WRAPPER_CONF = '''\
"""Offline wrapper around Django's docs/conf.py (written by _inv/regenerate.py)."""

import importlib.util
from pathlib import Path

__file__ = str(Path(__file__).with_name("django_conf.py"))
exec(compile(Path(__file__).read_text(), __file__, "exec"))


def _available(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


extensions = [e for e in extensions if _available(e)]  # noqa: F821
intersphinx_mapping = {}
'''

USER_AGENT = "async-django-docs-inv-regenerate/1 (+urllib)"


class Failure(Exception):
    """An expected failure: reported as one line, no traceback."""


@dataclass
class Record:
    """What SOURCES.md says about one inventory."""

    inv: Path
    title: str  # one sentence: what the inventory is
    url: str  # the artifact downloaded
    items: list[str]  # bullet points (without "- "), wrapped when written


def log(msg: str) -> None:
    print(f"[regenerate] {msg}", flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, accept: str | None = None) -> bytes:
    headers = {"User-Agent": USER_AGENT}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Failure(f"download failed: {url}: {reason}") from None


def download(url: str, dest: Path, expected_sha256: str) -> Path:
    """Download url to dest (reusing a verified copy) and check its sha256."""
    if dest.exists() and sha256(dest) == expected_sha256:
        log(f"reusing {dest.relative_to(ROOT)}")
        return dest
    log(f"downloading {url}")
    data = fetch(url)
    got = hashlib.sha256(data).hexdigest()
    if got != expected_sha256:
        raise Failure(f"sha256 mismatch for {url}: got {got}, want {expected_sha256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def read_inventory(path: Path) -> set[tuple[str, str]]:
    """Return the (domain:role, name) pairs of a Sphinx objects.inv (v2)."""
    data = path.read_bytes()
    header = data.split(b"\n", 4)
    if len(header) < 5 or header[0] != b"# Sphinx inventory version 2":
        raise Failure(f"{path}: not a Sphinx v2 inventory")
    try:
        body = zlib.decompress(header[4]).decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise Failure(f"{path}: corrupt inventory: {exc}") from None
    line_re = re.compile(r"(.+?)\s+(\S+)\s+(-?\d+)\s+?(\S*)\s+(.*)")
    entries = set()
    for line in body.splitlines():
        m = line_re.fullmatch(line)
        if m:
            entries.add((m.group(2), m.group(1)))
    return entries


def verify_and_copy(path: Path, expected: list[tuple[str, str]], target: Path) -> int:
    """Check path has the expected entries, then copy it to target."""
    entries = read_inventory(path)
    missing = [
        f"{role} {name}" for role, name in expected if (role, name) not in entries
    ]
    if missing:
        raise Failure(f"{target.name} would lack: {', '.join(missing)}")
    for role, name in expected:
        log(f"  ok {role} {name}")
    shutil.copyfile(path, target)
    log(f"wrote {target.relative_to(ROOT)} ({len(entries)} objects)")
    return len(entries)


# -- Django ----------------------------------------------------------------


def pinned_django() -> str:
    pin = re.compile(r'^Django==(6\.1\.\d+)\s*;\s*python_version\s*>=\s*"3\.12"\s*$')
    for line in REQUIREMENTS.read_text().splitlines():
        m = pin.match(line.strip())
        if m:
            return m.group(1)
    raise Failure(
        f'no `Django==6.1.x; python_version >= "3.12"` line in {REQUIREMENTS}'
    )


def django_sdist(version: str) -> tuple[str, str, str]:
    """Return (filename, url, sha256) of the Django sdist (PyPI simple API, JSON)."""
    index = PYPI_SIMPLE.format(name="django")
    raw = fetch(index, accept="application/vnd.pypi.simple.v1+json")
    try:
        files = json.loads(raw)["files"]
    except (ValueError, KeyError):
        raise Failure(f"unexpected answer from {index}") from None
    filename = f"django-{version}.tar.gz"
    for f in files:
        if f.get("filename") == filename and "sha256" in f.get("hashes", {}):
            return filename, f["url"], f["hashes"]["sha256"]
    raise Failure(f"{filename} not listed at {index}")


def build_django() -> Record:
    version = pinned_django()
    filename, url, digest = django_sdist(version)
    sdist = download(url, BUILD / "downloads" / filename, digest)

    src = BUILD / f"django-{version}"
    shutil.rmtree(src, ignore_errors=True)
    log(f"unpacking into {src.relative_to(ROOT)}")
    with tarfile.open(sdist) as tar:
        tar.extractall(BUILD, filter="data")
    docs = src / "docs"
    if not (docs / "conf.py").is_file():
        raise Failure(f"{filename} has no docs/conf.py")
    (docs / "conf.py").rename(docs / "django_conf.py")
    (docs / "conf.py").write_text(WRAPPER_CONF)

    out = BUILD / "django-dirhtml"
    doctrees = BUILD / "django-doctrees"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(doctrees, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "dirhtml", "-j", "auto", "-q"]
    cmd += ["-d", str(doctrees), str(docs), str(out)]
    log_file = BUILD / "django-sphinx.log"
    log_name = log_file.relative_to(ROOT)
    log(f"running Sphinx (dirhtml, -j auto); output in {log_name}")
    start = time.monotonic()
    with log_file.open("w") as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise Failure(f"Sphinx failed (exit {result.returncode}); see {log_name}")
    log(f"Sphinx finished in {seconds:.0f} s")
    built = out / "objects.inv"
    if not built.is_file():
        raise Failure(f"Sphinx produced no {built.relative_to(ROOT)}")
    count = verify_and_copy(built, DJANGO_EXPECTED, DJANGO_INV)

    import sphinx  # the Sphinx that ran, from this interpreter's environment

    return Record(
        DJANGO_INV,
        f"Django {version} documentation, for"
        f" https://docs.djangoproject.com/en/6.1/ ({count} objects).",
        url,
        [
            f"Source: `{filename}`, the sdist of Django {version} on PyPI (file URL"
            f" below, found via {PYPI_SIMPLE.format(name='django')})",
            f"Source sha256: `{digest}`",
            f"Built with Sphinx {sphinx.__version__}: `sphinx-build -b dirhtml -j auto`"
            " on the sdist's docs/, its conf.py wrapped to empty"
            " `intersphinx_mapping` and drop extensions that are not installed",
        ],
    )


# -- Python ----------------------------------------------------------------


def debian_package(name: str) -> dict[str, str]:
    raw = fetch(DEBIAN_PACKAGES)
    try:
        text = lzma.decompress(raw).decode()
    except (lzma.LZMAError, UnicodeDecodeError):
        raise Failure(f"cannot decompress {DEBIAN_PACKAGES}") from None
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in stanza.splitlines()
            if ": " in line and not line.startswith(" ")
        )
        if fields.get("Package") == name:
            return fields
    raise Failure(f"{name} not found in {DEBIAN_PACKAGES}")


def deb_member(deb: Path, member: str) -> bytes:
    """Return one file from a .deb's data.tar.* (an ar archive), without dpkg."""
    with deb.open("rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise Failure(f"{deb.name} is not a .deb (ar) archive")
        while header := f.read(60):
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58])
            data = f.read(size)
            f.read(size % 2)
            if name.startswith("data.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    for info in tar:
                        if info.name.lstrip("./") == member and info.isfile():
                            extracted = tar.extractfile(info)
                            assert extracted is not None
                            return extracted.read()
                raise Failure(f"{deb.name} has no {member}")
    raise Failure(f"{deb.name} has no data.tar member")


def build_python() -> Record:
    fields = debian_package(DEBIAN_PACKAGE)
    url = f"{DEBIAN}/{fields['Filename']}"
    deb = download(
        url, BUILD / "downloads" / Path(fields["Filename"]).name, fields["SHA256"]
    )
    log(f"extracting {PYTHON_INV_IN_DEB}")
    extracted = BUILD / "python-objects.inv"
    extracted.write_bytes(deb_member(deb, PYTHON_INV_IN_DEB))
    count = verify_and_copy(extracted, PYTHON_EXPECTED, PYTHON_INV)
    return Record(
        PYTHON_INV,
        "Python 3.13 documentation, for https://docs.python.org/3.13/"
        f" ({count} objects).",
        url,
        [
            f"Source: Debian trixie's `{DEBIAN_PACKAGE}` {fields['Version']}"
            f" (file URL below, found via {DEBIAN_PACKAGES})",
            f"Source sha256: `{fields['SHA256']}`",
            f"Copied unchanged from the package's `/{PYTHON_INV_IN_DEB}`",
        ],
    )


# -- SOURCES.md ------------------------------------------------------------

INTRO = """\
# Intersphinx inventories

Committed so that building the site never touches the network: the site's
`intersphinx_mapping` pairs each base URL below with its local file.
Regenerate both with `.venv/3.13/bin/python _inv/regenerate.py` from the
repository root, or one with `--only django` / `--only python`. Downloads and
build trees go to `_inv/build/` (gitignored); each download is checked against
the sha256 that its index publishes.
"""


MAX_LINE = 100


def split_url(url: str, first: int, rest: int) -> list[str]:
    """Split url at "/" into pieces that fit; shell joins them at "\\"+newline."""
    pieces, line = [], ""
    for part in re.findall(r"[^/]*/|[^/]+$", url):
        limit = (rest if pieces else first) - 1  # room for the trailing "\\"
        if line and len(line) + len(part) > limit:
            pieces.append(line)
            line = ""
        line += part
    return [*pieces, line]


def section(record: Record, option: str) -> str:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    items = [
        *record.items,
        f"Inventory sha256: `{sha256(record.inv)}`",
        f"Generated: {today}",
        f"Regenerate: `.venv/3.13/bin/python _inv/regenerate.py --only {option}`",
    ]
    lines = [f"## {record.inv.name}", ""]
    lines += textwrap.wrap(record.title, MAX_LINE, break_long_words=False)
    lines.append("")
    for item in items:
        lines += textwrap.wrap(
            item,
            MAX_LINE,
            initial_indent="- ",
            subsequent_indent="  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    prefix = "curl -fLO "
    url_lines = split_url(record.url, MAX_LINE - len(prefix), MAX_LINE)
    url_lines[0] = prefix + url_lines[0]
    lines += ["", "Download it again by hand:", "", "```sh"]
    lines += [line + "\\" for line in url_lines[:-1]] + [url_lines[-1], "```"]
    too_long = [line for line in lines if len(line) > MAX_LINE]
    if too_long:
        raise Failure(f"SOURCES.md line over {MAX_LINE} chars: {too_long[0]}")
    return "\n".join(lines) + "\n"


def existing_sections() -> dict[str, str]:
    if not SOURCES.exists():
        return {}
    parts = re.split(r"^(?=## )", SOURCES.read_text(), flags=re.MULTILINE)
    return {p.split("\n", 1)[0][3:].strip(): p.rstrip("\n") + "\n" for p in parts[1:]}


def write_sources(new: dict[str, str]) -> None:
    sections = existing_sections() | new
    order = [DJANGO_INV.name, PYTHON_INV.name]
    body = [sections[name] for name in order if name in sections]
    SOURCES.write_text(INTRO + "".join("\n" + s for s in body))


# -- main ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=["django", "python"], help="regenerate one")
    args = parser.parse_args(argv)
    builders = {"django": build_django, "python": build_python}
    selected = [args.only] if args.only else list(builders)
    BUILD.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    start = time.monotonic()
    try:
        for option in selected:
            record = builders[option]()
            write_sources({record.inv.name: section(record, option)})
    except Failure as exc:
        print(f"regenerate.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("regenerate.py: interrupted", file=sys.stderr)
        return 130
    log(f"done in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
