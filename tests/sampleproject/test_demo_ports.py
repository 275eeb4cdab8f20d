"""One environment variable moves the fake upstream, and the demo rows with it."""

import pytest
from django.core.management import CommandError, call_command

from sampleproject.board.demo import demo_upstream
from sampleproject.board.models import Service


def test_the_upstream_is_on_8001_unless_told(monkeypatch):
    monkeypatch.delenv("UPSTREAM_PORT", raising=False)
    assert demo_upstream() == "http://127.0.0.1:8001"
    monkeypatch.setenv("UPSTREAM_PORT", "9101")
    assert demo_upstream() == "http://127.0.0.1:9101"


@pytest.mark.django_db
def test_seeded_rows_follow_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("UPSTREAM_PORT", "9101")
    call_command("seed_demo")
    assert Service.objects.get(slug="search").url == "http://127.0.0.1:9101/svc/search"
    assert "4 demo services ready." in capsys.readouterr().out


@pytest.mark.django_db
def test_a_second_run_on_another_port_moves_the_demo_rows(monkeypatch):
    monkeypatch.setenv("UPSTREAM_PORT", "9101")
    call_command("seed_demo")
    Service.objects.filter(slug="login").update(url="https://login.example/health")
    monkeypatch.setenv("UPSTREAM_PORT", "9201")
    call_command("seed_demo")
    urls = dict(Service.objects.values_list("slug", "url"))
    assert urls["search"] == "http://127.0.0.1:9201/svc/search"
    assert urls["payments"] == "http://127.0.0.1:9201/svc/payments"
    # A URL someone changed is not a demo URL any more: it stays.
    assert urls["login"] == "https://login.example/health"


# The last: "80" in fullwidth digits, which str.isdigit() accepts.
@pytest.mark.parametrize("bad", ["soon", "0", "70000", "-1", "\uff18\uff10"])
@pytest.mark.django_db
def test_a_bad_port_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("UPSTREAM_PORT", bad)
    with pytest.raises(CommandError, match="UPSTREAM_PORT must be a port number"):
        call_command("seed_demo")
    assert Service.objects.count() == 0
