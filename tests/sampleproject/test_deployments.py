"""The project under the servers the guides deploy it with, over real sockets.

The deployment guide (docs/guides/deployment.md) shows one script per ASGI
server in snippets/guides/deploy/. Each test here runs those scripts as they
are, with the production settings, one worker and a free port, and checks what
the guide says: that each serves the dashboard, an async API view and a live
event stream; which servers run the lifespan protocol; what each does with an
open stream on SIGTERM; and how static files are served. The older tests at
the end run uvicorn, gunicorn with uvicorn workers and plain gunicorn (WSGI)
with the development settings, as the tutorial does.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.servers import group_members
from tests.support import tools
from tests.support.servers import ROOT, free_port, manage, running_server

TILES = ("Payments API", "Search", "Login", "E-mail relay")
ASGI_APP = "sampleproject.asgi:application"
WSGI_APP = "sampleproject.wsgi:application"
DEPLOY = ROOT / "snippets" / "guides" / "deploy"
BIN = str(Path(sys.executable).parent)
# Every script's graceful stop, in seconds: what the servers wait for requests.
GRACE = 5
# Behind the proxy the production settings expect, which says the client
# spoke HTTPS (otherwise Django redirects to https://).
PROXIED = {"X-Forwarded-Proto": "https"}

# The deployment scripts, and the Server header each one answers with.
SCRIPTS = {
    "uvicorn": "uvicorn",
    "gunicorn-uvicorn": "uvicorn",
    "daphne": "daphne",
    "hypercorn": "hypercorn-h11",
    "granian": "granian",
}
# Which servers run the lifespan protocol: every one but daphne.
RUNS_LIFESPAN = {
    "uvicorn": True,
    "gunicorn-uvicorn": True,
    "daphne": False,
    "hypercorn": True,
    "granian": True,
}


@pytest.fixture(scope="module")
def prod_env(tmp_path_factory) -> dict[str, str]:
    """The production settings on a migrated SQLite board with the demo services."""
    data = tmp_path_factory.mktemp("deploy")
    env = {
        "STATUSBOARD_DATA_DIR": str(data),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.prod",
        "DJANGO_SECRET_KEY": "a-test-key-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(data / "static"),
        # The scripts call the servers by name, as a reader's shell would.
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "WORKERS": "1",
    }
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    return env


def script_command(name: str, tmp_path: Path, **replace: str) -> list[str]:
    """``sh`` on a deployment script, or on a copy with words replaced."""
    script = DEPLOY / f"{name}.sh"
    if not replace:
        return ["sh", str(script)]
    text = script.read_text()
    for old, new in replace.items():
        assert old in text, (old, script)
        text = text.replace(old, new)
    copy = tmp_path / script.name
    copy.write_text(text.replace('"$(dirname "$0")', f'"{DEPLOY}'))
    return ["sh", str(copy)]


def serve(command: list[str], env: dict[str, str]):
    port = free_port()
    env = {**env, "PORT": str(port)}
    ready = f"http://127.0.0.1:{port}/api/summary/"
    return port, running_server(command, ready, env=env)


def open_stream(port: int) -> tuple[socket.socket, bytes]:
    """An event stream, read up to its first event: the socket and the bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    headers = "Host: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
    request = f"GET /events/ HTTP/1.1\r\n{headers}Accept: text/event-stream\r\n\r\n"
    sock.sendall(request.encode())
    received = b""
    while b"retry:" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return sock, received


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[str, bytes]:
    """How the stream ended ("closed", "reset" or "open") and what came after."""
    sock.settimeout(seconds)
    rest = b""
    try:
        while chunk := sock.recv(4096):
            rest += chunk
    except TimeoutError:
        return "open", rest
    except ConnectionResetError:
        return "reset", rest
    return "closed", rest


def group_gone(pgid: int) -> bool:
    """No live (non-zombie) process is left in the group, within a second."""
    deadline = time.monotonic() + 1
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not group_members(pgid)


# Each script serves the board: the dashboard, an async view, a live stream.


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_serves_the_dashboard_an_async_view_and_a_stream(
    name, prod_env, tmp_path
):
    port, server = serve(script_command(name, tmp_path), prod_env)
    base = f"http://127.0.0.1:{port}"
    with (
        server as process,
        httpx.Client(base_url=base, headers=PROXIED, timeout=10) as client,
    ):
        summary = client.get("/api/summary/")  # an async view
        assert summary.json() == {"services": 4, "enabled": 4}
        assert summary.headers["server"] == SCRIPTS[name]

        dashboard = client.get("/")
        assert dashboard.status_code == 200
        for tile in TILES:
            assert f">{tile}</a>" in dashboard.text

        sock, head = open_stream(port)
        with sock:
            assert head.startswith(b"HTTP/1.1 200")
            assert b"x-board-stream: live" in head.lower()
            assert b"retry: 3000" in head
    # Stopped: the script's server and every worker it started.
    assert process.returncode is not None
    assert group_gone(process.pid)


def test_the_gunicorn_settings_take_workers_and_port_from_the_environment(
    monkeypatch,
):
    import runpy

    conf = str(DEPLOY / "gunicorn.conf.py")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("WORKERS", "3")
    settings = runpy.run_path(conf)
    assert settings["bind"] == "127.0.0.1:9000"
    assert settings["workers"] == 3
    assert settings["worker_class"] == "uvicorn_worker.UvicornWorker"
    monkeypatch.delenv("WORKERS")
    assert runpy.run_path(conf)["workers"] == (os.cpu_count() or 1)


# Lifespan: which servers start and stop the app with it.


def lifespan_messages(command: list[str], env: dict[str, str], log: Path):
    port, server = serve(command, {**env, "LIFESPAN_LOG": str(log)})
    with server as process:
        assert httpx.get(
            f"http://127.0.0.1:{port}/api/summary/", headers=PROXIED
        ).is_success
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GRACE + 10)
    return log.read_text().split() if log.exists() else []


@pytest.mark.parametrize("name", SCRIPTS)
def test_which_servers_run_the_lifespan_protocol(name, prod_env, tmp_path):
    command = script_command(
        name,
        tmp_path,
        **{ASGI_APP: "tests.sampleproject.lifespan_recorder:application"},
    )
    messages = lifespan_messages(command, prod_env, tmp_path / "lifespan.log")
    if RUNS_LIFESPAN[name]:
        assert messages == [
            "lifespan.startup",
            "lifespan.startup.complete",
            "lifespan.shutdown",
            "lifespan.shutdown.complete",
        ]
    else:
        assert messages == []  # Lifespan never runs: no start-up, no shut-down


def test_granian_skips_lifespan_with_the_asginl_interface(prod_env, tmp_path):
    command = script_command(
        "granian",
        tmp_path,
        **{
            ASGI_APP: "tests.sampleproject.lifespan_recorder:application",
            "--interface asgi": "--interface asginl",
        },
    )
    assert lifespan_messages(command, prod_env, tmp_path / "lifespan.log") == []


# SIGTERM with an event stream open: how long each server takes to exit, and
# what the browser's stream sees.

HYPERCORN_WAITS = sys.version_info >= (3, 12)


@pytest.mark.parametrize("name", SCRIPTS)
def test_what_each_server_does_with_an_open_stream_on_sigterm(name, prod_env, tmp_path):
    port, server = serve(script_command(name, tmp_path), prod_env)
    with server as process:
        sock, head = open_stream(port)
        with sock:
            assert head.startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            ended, rest = read_until_closed(sock, GRACE + 5)
            stream_seconds = time.monotonic() - started
            # A server still streaming after all that will not exit now.
            wait = GRACE + 5 if ended != "open" else 0.5
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                exit_seconds = None
                os.killpg(process.pid, signal.SIGKILL)  # as a process manager would
                process.wait()
            else:
                exit_seconds = time.monotonic() - started
    # No server ends the stream as a response: no last chunk, no event. The
    # browser's EventSource reconnects after the stream's retry delay.
    assert b"0\r\n\r\n" not in rest
    if name == "daphne":
        # daphne drops every connection at once and exits.
        assert ended in ("closed", "reset")
        assert stream_seconds < 2
        assert exit_seconds is not None
        assert exit_seconds < 3
    elif name == "hypercorn" and HYPERCORN_WAITS:
        # On Python 3.12+ hypercorn waits for every open connection, past its
        # --graceful-timeout (pgjones/hypercorn#308): it never exits by itself.
        assert ended == "open"
        assert exit_seconds is None
    else:
        # The others wait their graceful timeout for the stream to end, then
        # cut it and exit.
        assert ended in ("closed", "reset")
        assert GRACE - 1 < stream_seconds < GRACE + 3
        assert exit_seconds is not None
        assert exit_seconds < GRACE + 4


# Static files: Django serves none under the production settings.


def test_static_files_come_from_collectstatic_not_from_django(prod_env, tmp_path):
    manage(prod_env, "collectstatic", "--noinput")
    collected = Path(prod_env["DJANGO_STATIC_ROOT"]) / "board" / "board.css"
    assert collected.is_file()
    port, server = serve(script_command("uvicorn", tmp_path), prod_env)
    with server:
        page = httpx.get(f"http://127.0.0.1:{port}/", headers=PROXIED)
        assert 'href="/static/board/board.css"' in page.text
        css = httpx.get(
            f"http://127.0.0.1:{port}/static/board/board.css", headers=PROXIED
        )
        assert css.status_code == 404  # for the proxy or the CDN to serve


def test_granian_can_serve_the_collected_files_itself(prod_env, tmp_path):
    manage(prod_env, "collectstatic", "--noinput")
    root = prod_env["DJANGO_STATIC_ROOT"]
    flags = f"--static-path-route /static --static-path-mount {root} \\\n    "
    command = script_command(
        "granian",
        tmp_path,
        **{"--workers-kill-timeout": flags + "--workers-kill-timeout"},
    )
    port, server = serve(command, prod_env)
    with server:
        css = httpx.get(f"http://127.0.0.1:{port}/static/board/board.css")
        assert css.status_code == 200
        assert css.content == (Path(root) / "board" / "board.css").read_bytes()


# WSGI and ASGI side by side, behind nginx: the stream alone goes to ASGI.


def nginx_command(nginx: str, tmp_path: Path, ports: dict, static: str) -> list:
    """nginx in the foreground, serving deploy/nginx.conf on the given ports."""
    site = (DEPLOY / "nginx.conf").read_text()
    for old, new in (
        ("127.0.0.1:8000;", f"127.0.0.1:{ports['wsgi']};"),
        ("127.0.0.1:8001;", f"127.0.0.1:{ports['asgi']};"),
        ("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{ports['nginx']};"),
        ("alias /srv/board/static/;", f"alias {static}/;"),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    for name in ("body", "proxy"):
        (tmp_path / name).mkdir()
    # Run as root, nginx's workers would drop to "nobody", who cannot read
    # pytest's private temporary directories.
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""
        daemon off; {user} worker_processes 1; pid {tmp_path}/nginx.pid;
        error_log stderr warn;
        events {{ worker_connections 64; }}
        http {{
            access_log off;
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            include {tmp_path}/site.conf;
        }}
    """
    (tmp_path / "nginx.conf").write_text(main)
    return [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]


def test_nginx_sends_the_stream_to_asgi_and_the_rest_to_wsgi(tmp_path):
    nginx = tools.need("nginx")
    data = tmp_path / "data"
    data.mkdir()
    env = {
        "STATUSBOARD_DATA_DIR": str(data),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        # nginx here speaks plain HTTP, which the production settings redirect.
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "WORKERS": "1",
        "THREADS": "4",
    }
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    manage(env, "collectstatic", "--noinput")
    ports = {"wsgi": free_port(), "asgi": free_port(), "nginx": free_port()}
    command = nginx_command(nginx, tmp_path, ports, str(data / "static"))
    base = f"http://127.0.0.1:{ports['nginx']}"
    with (
        running_server(
            script_command("gunicorn-wsgi", tmp_path),
            f"http://127.0.0.1:{ports['wsgi']}/api/summary/",
            env={**env, "PORT": str(ports["wsgi"])},
        ),
        running_server(
            script_command("uvicorn", tmp_path),
            f"http://127.0.0.1:{ports['asgi']}/api/summary/",
            env={**env, "PORT": str(ports["asgi"])},
        ),
        running_server(command, f"{base}/api/summary/"),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        # Straight to WSGI, the board's stream is a snapshot to poll.
        direct = httpx.get(f"http://127.0.0.1:{ports['wsgi']}/events/")
        assert direct.headers["x-board-stream"] == "polling"
        # Through nginx, /events/ reaches ASGI and streams, event by event.
        sock, head = open_stream(ports["nginx"])
        with sock:
            assert head.startswith(b"HTTP/1.1 200")
            assert b"x-board-stream: live" in head.lower()
            assert b"retry: 3000" in head
        # Everything else is WSGI's: gunicorn's gthread worker.
        dashboard = client.get("/")
        assert dashboard.status_code == 200
        for tile in TILES:
            assert f">{tile}</a>" in dashboard.text
        # And the collected files come from disk, not from Django.
        css = client.get("/static/board/board.css")
        assert css.status_code == 200
        assert css.content == (data / "static" / "board" / "board.css").read_bytes()


# The servers the tutorial runs, with the development settings.

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
    manage_py = [sys.executable, "sampleproject/manage.py"]
    for command in (["migrate", "--no-input"], ["seed_demo"]):
        subprocess.run(
            [*manage_py, *command],
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
