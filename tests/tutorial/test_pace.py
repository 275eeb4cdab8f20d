"""A person can follow the tutorial: how much each part asks them to write.

What counts as a written line, a block and a downloaded line is defined in
:mod:`_ext.tutorialproject` (non-blank lines of each file shown whole, the
non-blank lines a changed file adds or changes, one line per replayed command;
ready files count as downloaded). The limits are issue 15's: Django's and
FastAPI's tutorials have the reader write a few dozen lines per step.
"""

from __future__ import annotations

import pytest

from _ext.tutorialproject import Pace, pace
from tests.support.servers import ROOT
from tests.tutorial.replay import parts

PER_PART = 200
IN_ALL = 1200
PER_BLOCK = 60


def table() -> list[Pace]:
    return [pace(page, ROOT) for page in parts()]


def describe(measured: list[Pace]) -> str:
    rows = [f"{'part':16} {'written':>8} {'downloaded':>11}  largest block"]
    rows += [
        f"{m.part:16} {m.written:8} {m.downloaded:11}  {m.largest[0]} ({m.largest[1]})"
        for m in measured
    ]
    return "\n".join(rows)


@pytest.mark.parametrize("page", parts(), ids=lambda page: page.stem)
def test_a_part_asks_for_at_most_200_lines(page):
    measured = pace(page, ROOT)
    assert measured.written <= PER_PART, describe(table())


@pytest.mark.parametrize("page", parts(), ids=lambda page: page.stem)
def test_no_block_the_reader_writes_is_longer_than_60_lines(page):
    too_long = [block for block in pace(page, ROOT).blocks if block[1] > PER_BLOCK]
    assert too_long == []


def test_the_whole_tutorial_asks_for_at_most_1200_lines():
    measured = table()
    assert sum(m.written for m in measured) <= IN_ALL, describe(measured)


def test_the_closing_note_shows_the_table():
    assert any("{tutorial-pace}" in page.read_text() for page in parts())
