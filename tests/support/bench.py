"""Running part of the benchmark harness from a test, as a reader would."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_run(tmp_path: Path, *groups: str, env=None, timeout=120):
    """``python -m bench run --quick --only GROUPS``: its results and stderr.

    The run must succeed; ``env`` replaces the environment when given.
    """
    output = tmp_path / "out.json"
    command = [sys.executable, "-m", "bench", "run", "--quick", "--only", *groups]
    result = subprocess.run(
        [*command, "--output", str(output)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(output.read_text()), result.stderr
