"""The tutorial, replayed: every file written and every command run, in order."""

import pytest

from tests.tutorial.replay import parts


@pytest.mark.parametrize("page", parts(), ids=lambda page: page.stem)
def test_part_replays(page, tutorial_run):
    tutorial_run.through(page)
    assert page in tutorial_run.done


def test_there_are_eight_parts():
    assert [page.name[:2] for page in parts()] == [f"{n:02}" for n in range(1, 9)]
