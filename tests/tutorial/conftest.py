"""One reader replays the whole tutorial once per test session, part by part."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tutorial.replay import Replay, ReplayError, parts

# What the reader's own tools make, not what the pages write.
NOT_PROJECT_FILES = ("__pycache__", ".venv", ".pytest_cache")


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file()
        and not set(path.relative_to(project).parts) & set(NOT_PROJECT_FILES)
    }


class TutorialRun:
    """Parts replay in order into one directory; a failed part stops the rest."""

    def __init__(self, home: Path):
        self.lines: list[str] = []
        self.replay = Replay(home, log=self.lines.append)
        self.done: list[Path] = []
        self.failed: str = ""
        # {part: {path: bytes}}: the reader's project as each part left it.
        self.states: dict[str, dict[str, bytes]] = {}

    def through(self, page: Path) -> None:
        for earlier in parts():
            if earlier in self.done:
                if earlier == page:
                    return
                continue
            if self.failed:
                pytest.fail(f"an earlier part failed: {self.failed}", pytrace=False)
            try:
                self.replay.run_part(earlier)
            except ReplayError as exc:
                self.failed = earlier.name
                log = "\n".join(self.lines[-40:])
                pytest.fail(f"{exc}\n\nlast steps:\n{log}", pytrace=False)
            self.done.append(earlier)
            self.states[earlier.name] = snapshot(self.replay.cwd)
            if earlier == page:
                return

    @property
    def project(self) -> Path:
        """The reader's project directory after every part: where they ``cd``-ed."""
        self.through(parts()[-1])
        return self.replay.cwd


@pytest.fixture(scope="session")
def tutorial_run(tmp_path_factory) -> TutorialRun:
    return TutorialRun(tmp_path_factory.mktemp("tutorial") / "home")
