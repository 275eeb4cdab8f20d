"""Start real servers for end-to-end tests, and always stop them.

A server runs in its own process group on a free loopback port. The context
manager waits until it answers, and on the way out terminates the whole group
(sphinx-autobuild and uvicorn start children), killing it if it lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def manage(env: dict[str, str], *args: str) -> None:
    """Run the sample project's manage.py with extra environment variables."""
    subprocess.run(
        [sys.executable, str(ROOT / "sampleproject" / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=60,
    )


def board_database(
    data_dir: str, username: str, password: str, service_url: str, **extra: str
) -> dict[str, str]:
    """Migrate a fresh SQLite board in ``data_dir`` with one admin and one service.

    Returns the environment a server needs to serve that board with the test
    settings (fast password hashing), plus ``extra``.
    """
    env = {
        "STATUSBOARD_DATA_DIR": data_dir,
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.test",
        "DJANGO_SUPERUSER_USERNAME": username,
        "DJANGO_SUPERUSER_PASSWORD": password,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        **extra,
    }
    manage(env, "migrate", "--noinput")
    manage(env, "createsuperuser", "--noinput")
    service = (
        "from sampleproject.board.models import Service; "
        "Service.objects.create(name='Payments', slug='payments', "
        f"url={service_url!r}, timeout=2)"
    )
    manage(env, "shell", "-c", service)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path = ROOT,
    inherit_env: bool = True,
) -> Iterator[subprocess.Popen]:
    """Run ``command`` until the block ends; yield once ``ready_url`` answers.

    ``env`` adds to this process's environment, or replaces it when
    ``inherit_env`` is false.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_ready(process, ready_url, timeout, log)
            yield process
        finally:
            stop(process)


def wait_until_ready(process, url: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    log.seek(0)
    output = log.read().decode(errors="replace")
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{output}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
