"""Fixtures every test file can use."""

import pytest

from sampleproject.board.broadcast import reset_broadcaster
from sampleproject.board.demo import seed


@pytest.fixture
def demo_services():
    """The four demo services, created with the sync ORM in the test's thread."""
    return seed()


@pytest.fixture(autouse=True)
def fresh_broadcaster():
    """Each test starts with an empty in-process broadcaster, and leaves none."""
    reset_broadcaster()
    yield
    reset_broadcaster()
