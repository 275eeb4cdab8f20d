"""The project under the servers the guides deploy it with, over real sockets.

uvicorn alone, gunicorn managing uvicorn workers (ASGI), and gunicorn alone
(WSGI), each serving an async view, a sync view and the dashboard from a
migrated SQLite database with the demo services.
"""

import os
import subprocess
import sys

import httpx
import pytest

from tests.support.servers import ROOT, free_port, running_server

TILES = ("Payments API", "Search", "Login", "E-mail relay")
ASGI_APP = "sampleproject.asgi:application"
WSGI_APP = "sampleproject.wsgi:application"
GUNICORN = [
    *(sys.executable, "-m", "gunicorn", "--workers", "1"),
    # Stopping should not wait out gunicorn's default 30 s for lingering requests.
    *("--graceful-timeout", "2"),
    # Otherwise every gunicorn binds the same control socket in $HOME, and
    # two running at once (another test, a benchmark) take it from each other.
    "--no-control-socket",
]

SERVERS = {
    "uvicorn": (
        [sys.executable, "-m", "uvicorn", ASGI_APP, "--lifespan", "off"],
        lambda port: ["--host", "127.0.0.1", "--port", str(port)],
        "uvicorn",
    ),
    "gunicorn+uvicorn-worker": (
        [*GUNICORN, "--worker-class", "uvicorn_worker.UvicornWorker", ASGI_APP],
        lambda port: ["--bind", f"127.0.0.1:{port}"],
        "uvicorn",
    ),
    "gunicorn-wsgi": (
        [*GUNICORN, WSGI_APP],
        lambda port: ["--bind", f"127.0.0.1:{port}"],
        "gunicorn",
    ),
}


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    env = {
        "STATUSBOARD_DATA_DIR": str(tmp_path_factory.mktemp("deployments")),
        "DATABASE_URL": "",
        # A shared Redis would also share the cached tiles with other runs.
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }
    manage = [sys.executable, "sampleproject/manage.py"]
    for command in (["migrate", "--no-input"], ["seed_demo"]):
        subprocess.run(
            [*manage, *command],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            check=True,
            timeout=60,
        )
    return env


@pytest.mark.parametrize("server", SERVERS)
def test_serves_the_board(server, demo_env):
    command, bind, server_header = SERVERS[server]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        running_server([*command, *bind(port)], f"{base}/api/summary/", env=demo_env),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        summary = client.get("/api/summary/")  # an async view
        assert summary.json() == {"services": 4, "enabled": 4}
        assert summary.headers["server"] == server_header

        dashboard = client.get("/")
        assert dashboard.status_code == 200
        for name in TILES:
            assert f">{name}</a>" in dashboard.text

        login = client.get("/admin/login/")  # a sync view
        assert login.status_code == 200
        assert 'name="username"' in login.text
        assert 'name="password"' in login.text
