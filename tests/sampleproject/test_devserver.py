"""The one-command demo (``make run``) starts everything, then stops it all."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sampleproject import devserver
from tests.support.servers import ROOT, free_port, running_server, stop

TILES = ("Payments API", "Search", "Login", "E-mail relay")
COMMAND = [sys.executable, "-m", "sampleproject.devserver"]


def demo_env(tmp_path: Path) -> dict[str, str]:
    return {
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        # A shared Redis would also share the cached tiles between test runs.
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
    }


def assert_demo_page(port: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert response.status_code == 200
    for name in TILES:
        assert f">{name}</a>" in response.text


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``, from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: split after it.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_checked_by_the_embedded_checker(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        html = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        if html.count('data-state="up"') == 4:
            return
        time.sleep(0.3)
    raise AssertionError(f"the demo services were not checked:\n{html}")


@pytest.fixture
def listening_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_runs_the_demo_and_stops_every_child_on_sigterm(tmp_path):
    port, upstream_port = free_port(), free_port()
    command = [*COMMAND, "--port", str(port), "--upstream-port", str(upstream_port)]
    url = f"http://127.0.0.1:{port}/"
    with running_server(command, url, env=demo_env(tmp_path)) as process:
        assert_demo_page(port)
        children = children_of(process.pid)
        assert len(children) == 2  # the fake upstream; uvicorn with the checker
        assert_checked_by_the_embedded_checker(port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert [pid for pid in children if is_running(pid)] == []
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=1)


def test_a_busy_port_is_one_line_and_exit_1(tmp_path, listening_port):
    result = subprocess.run(
        [*COMMAND, "--port", str(listening_port), "--upstream-port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, **demo_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"python -m sampleproject.devserver: cannot listen on"
        f" 127.0.0.1:{listening_port} (--port): Address already in use\n"
    )
    assert not list(tmp_path.iterdir()), "nothing should start on a busy port"


# The same, in process: the supervisor's own logic, measured by coverage.


def test_main_in_process_until_sigterm(tmp_path, monkeypatch):
    for name, value in demo_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    started = []
    original_start = devserver.Supervisor.start

    def recording_start(self, name, command):
        child = original_start(self, name, command)
        started.append((name, child))
        return child

    monkeypatch.setattr(devserver.Supervisor, "start", recording_start)
    port, upstream_port = free_port(), free_port()
    finished = threading.Event()
    seen: list[BaseException] = []

    def browse_then_stop():
        try:
            while not finished.is_set():
                try:
                    assert_demo_page(port)
                except httpx.TransportError:
                    finished.wait(0.2)
                else:
                    break
        except BaseException as error:  # handed to the test's thread below
            seen.append(error)
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    # Should the SIGTERM arrive after main() returned, it must not end pytest.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    browser = threading.Thread(target=browse_then_stop)
    try:
        browser.start()
        code = devserver.main(
            ["--port", str(port), "--upstream-port", str(upstream_port)]
        )
        finished.set()
        browser.join(10)
    finally:
        finished.set()
        signal.signal(signal.SIGTERM, previous)
    assert seen == []
    assert code == 0
    assert [name for name, _ in started] == ["the fake upstream", "uvicorn"]
    assert all(child.poll() is not None for _, child in started)


def test_main_in_process_refuses_a_busy_port(listening_port, capsys):
    argv = ["--port", str(free_port()), "--upstream-port", str(listening_port)]
    assert devserver.main(argv) == 1
    assert capsys.readouterr().err == (
        f"python -m sampleproject.devserver: cannot listen on"
        f" 127.0.0.1:{listening_port} (--upstream-port): Address already in use\n"
    )


def test_ports_must_differ(capsys):
    assert devserver.main(["--port", "8123", "--upstream-port", "8123"]) == 1
    assert "must differ (both are 8123)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [("http", "expected a port number, got 'http'"), ("0", "from 1 to 65535, got 0")],
)
def test_bad_port_arguments(text, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        devserver.main(["--port", text])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def python_exiting(code: int, stderr: str = "") -> list[str]:
    return [
        sys.executable,
        "-c",
        f"import sys; sys.stderr.write({stderr!r}); sys.exit({code})",
    ]


def test_a_failing_step_or_child_is_reported():
    supervisor = devserver.Supervisor()
    with pytest.raises(devserver.DemoFailed, match="migrate failed with exit code 3"):
        supervisor.run(python_exiting(3), "migrate")
    supervisor.start("the fake upstream", python_exiting(4))
    supervisor.children[0][1].wait(10)
    with pytest.raises(
        devserver.DemoFailed, match="the fake upstream exited with code 4"
    ):
        supervisor.wait_for_stop()


def test_main_reports_a_failing_step(monkeypatch, capsys):
    monkeypatch.setattr(devserver, "MANAGE", python_exiting(2))
    argv = ["--port", str(free_port()), "--upstream-port", str(free_port())]
    assert devserver.main(argv) == 1
    assert capsys.readouterr().err == (
        "python -m sampleproject.devserver: migrate failed with exit code 2; stopping\n"
    )


def test_a_server_that_never_listens_is_reported(monkeypatch):
    monkeypatch.setattr(devserver, "READY_TIMEOUT", 0.3)
    supervisor = devserver.Supervisor()
    supervisor.start("uvicorn", [sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(devserver.DemoFailed, match="nothing listens on"):
            supervisor.wait_until_listening(free_port())
    finally:
        supervisor.stop_all()
    assert supervisor.children[0][1].returncode == -signal.SIGTERM


def test_a_signal_during_startup_stops_instead_of_failing():
    supervisor = devserver.Supervisor()
    supervisor.stop_signal = signal.SIGINT  # as the handler would record it
    # The step failed because the Ctrl+C reached it too: not worth an error.
    with pytest.raises(devserver.StopRequested):
        supervisor.run(python_exiting(1), "migrate")
    with pytest.raises(devserver.StopRequested):
        supervisor.start("uvicorn", python_exiting(0))
    assert supervisor.children == []


def test_a_child_that_ignores_sigterm_is_killed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(devserver, "STOP_TIMEOUT", 0.5)
    ready = tmp_path / "ignoring"
    supervisor = devserver.Supervisor()
    stubborn = supervisor.start(
        "a stubborn child",
        [
            sys.executable,
            "-c",
            "import pathlib, signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "pathlib.Path(sys.argv[1]).touch()\n"
            "time.sleep(30)\n",
            str(ready),
        ],
    )
    try:
        # A SIGTERM sent before the child ignores it would end it at once.
        for _ in range(100):
            if ready.exists():
                break
            time.sleep(0.05)
        supervisor.stop_all()
        assert stubborn.returncode == -signal.SIGKILL
        warning = "a stubborn child did not stop in 0.5 s: killing it"
        assert warning in capsys.readouterr().err
    finally:
        stop(stubborn)


def test_a_pipe_without_reader_is_broken_and_a_file_is_not(tmp_path):
    read_end, write_end = os.pipe()
    try:
        assert not devserver.broken_pipe(write_end)
        os.close(read_end)
        assert devserver.broken_pipe(write_end)
        # From then on, writes go nowhere instead of failing.
        devserver.stop_writing_to(write_end)
        assert os.write(write_end, b"lost") == 4
        assert not devserver.broken_pipe(write_end)
    finally:
        os.close(write_end)
    with (tmp_path / "log").open("w") as file:
        assert not devserver.broken_pipe(file.fileno())


def test_a_closed_output_pipe_stops_the_demo(monkeypatch, capsys):
    # fd 2 stands for a stderr piped into a tee that has ended.
    monkeypatch.setattr(devserver, "broken_pipe", lambda fd: fd == 2)
    silenced = []
    monkeypatch.setattr(devserver, "stop_writing_to", silenced.append)
    supervisor = devserver.Supervisor()
    with pytest.raises(devserver.StopRequested):
        supervisor.wait_for_stop()
    assert silenced == [2]
    assert "the output pipe was closed" in capsys.readouterr().err


def test_say_ignores_a_reader_that_went_away(monkeypatch):
    class Gone:
        def write(self, text):
            raise BrokenPipeError

        def flush(self):
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", Gone())
    devserver.say("nobody reads this")  # no exception: the poll stops the demo
