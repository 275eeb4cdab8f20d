"""Build small throwaway Sphinx projects, to test the site's extensions alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BuildResult:
    returncode: int
    output: str
    outdir: Path

    @property
    def doctest_report(self) -> str:
        return (self.outdir / "output.txt").read_text()


def write_project(srcdir: Path, conf: str, pages: dict[str, str]) -> Path:
    srcdir.mkdir(parents=True, exist_ok=True)
    header = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
    (srcdir / "conf.py").write_text(header + textwrap.dedent(conf))
    for name, text in pages.items():
        path = srcdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return srcdir


def sphinx_build(
    srcdir: Path,
    builder: str,
    *extra: str,
    confdir: Path | None = None,
    strict: bool = True,
) -> BuildResult:
    outdir = srcdir.parent / f"_out_{builder}"
    command = [sys.executable, "-m", "sphinx", "-b", builder, "-E", "-q"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    if confdir is not None:
        command += ["-c", str(confdir)]
    command += [*extra, str(srcdir), str(outdir)]
    process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    return BuildResult(process.returncode, process.stdout + process.stderr, outdir)
