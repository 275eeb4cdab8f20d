"""The replay harness catches a page that promises what the code does not do."""

import secrets
import subprocess

import pytest

from tests.support import tools
from tests.support.servers import ROOT
from tests.tutorial import databases
from tests.tutorial.replay import Replay, ReplayError


def replay_page(tmp_path, text: str) -> Replay:
    page = tmp_path / "01-page.md"
    page.write_text("# Part\n\n" + text)
    replay = Replay(tmp_path / "home", log=lambda line: None)
    replay.run_part(page)
    return replay


def test_commands_run_in_order_and_cd_persists(tmp_path):
    replay = replay_page(
        tmp_path,
        "```{tutorial-shell}\n$ mkdir board\n$ cd board\n$ pwd\n...board\n```\n",
    )
    assert replay.cwd == (tmp_path / "home" / "board").resolve()


def test_wrong_output_fails_with_both_texts(tmp_path):
    with pytest.raises(
        ReplayError, match=r"(?s)printed:\nreal\n.*the page says:\npromised"
    ):
        replay_page(tmp_path, "```{tutorial-shell}\n$ echo real\npromised\n```\n")


def test_unexpected_exit_status_fails(tmp_path):
    with pytest.raises(ReplayError, match="exited with 1, the page expects 0"):
        replay_page(tmp_path, "```{tutorial-shell}\n$ false\n```\n")


def test_files_are_written_byte_for_byte_and_ports_come_from_the_environment(
    tmp_path,
):
    replay = replay_page(
        tmp_path,
        "```{tutorial-download} sampleproject/board/demo.py\n"
        ":source: sampleproject/board/demo.py\n```\n\n"
        "```{tutorial-shell}\n$ echo :$BOARD_PORT :$UPSTREAM_PORT\n"
        ":8000 :8001\n```\n",
    )
    written = tmp_path / "home" / "sampleproject/board/demo.py"
    assert written.read_bytes() == (ROOT / "sampleproject/board/demo.py").read_bytes()
    assert replay.ports[8000] != 8000  # the output above was remapped, and matched


def test_servers_answer_on_remapped_ports_and_stop_after_the_part(tmp_path):
    replay = replay_page(
        tmp_path,
        "```{tutorial-shell}\n:server: http://127.0.0.1:8000/\n"
        "$ python -m http.server 8000 --bind 127.0.0.1\n```\n\n"
        "```{tutorial-shell}\n"
        '$ curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1:8000/\n200\n```\n',
    )
    import socket

    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", replay.ports[8000]), timeout=1),
    ):
        pass


def test_a_server_that_dies_is_reported(tmp_path):
    with pytest.raises(ReplayError, match="did not start"):
        replay_page(
            tmp_path,
            "```{tutorial-shell}\n:server: http://127.0.0.1:8000/\n"
            "$ python -c 'raise SystemExit(4)'\n```\n",
        )


def test_inherited_settings_do_not_leak_into_the_reader_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "sampleproject.settings.test")
    replay_page(
        tmp_path,
        "```{tutorial-shell}\n"
        '$ echo "[${DJANGO_SETTINGS_MODULE:-unset}]"\n[unset]\n```\n',
    )


def createdb(name: str) -> None:
    subprocess.run(["createdb", *databases.SERVER, name], check=True, timeout=30)


def create_ours_drop_theirs(ours: str, theirs: str) -> None:
    with databases.guarded(ours):
        createdb(ours)
        subprocess.run(["dropdb", *databases.SERVER, theirs], check=True)


def a_readers_database() -> str:
    """A name like a database the reader keeps: not another test run's."""
    return f"statusboard_kept_{secrets.token_hex(4)}"


def test_the_database_guard_catches_a_dropped_database_and_drops_its_own():
    tools.need("postgres")
    theirs, ours = a_readers_database(), databases.run_name()
    createdb(theirs)  # a database the part did not create
    try:
        with pytest.raises(databases.DatabaseLost, match=theirs):
            create_ours_drop_theirs(ours, theirs)
        assert ours not in databases.databases()  # the run's own, cleaned up
    finally:
        subprocess.run(["dropdb", *databases.SERVER, "--if-exists", theirs])
        subprocess.run(["dropdb", *databases.SERVER, "--if-exists", ours])


def test_the_database_guard_leaves_other_databases_alone():
    tools.need("postgres")
    theirs, ours = a_readers_database(), databases.run_name()
    createdb(theirs)
    try:
        with databases.guarded(ours):
            pass
        assert theirs in databases.databases()
    finally:
        subprocess.run(["dropdb", *databases.SERVER, "--if-exists", theirs])


def test_another_test_runs_database_may_come_and_go():
    # Django's test databases and other replays' own are dropped by their runs.
    tools.need("postgres")
    for theirs in (f"test_statusboard_{secrets.token_hex(4)}", databases.run_name()):
        createdb(theirs)
        try:
            create_ours_drop_theirs(databases.run_name(), theirs)
        finally:
            subprocess.run(["dropdb", *databases.SERVER, "--if-exists", theirs])
