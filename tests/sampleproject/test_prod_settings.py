"""Production settings: ``check --deploy`` passes; half-configured, they refuse."""

import importlib
import os
import secrets
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.support.servers import ROOT

MODULE = "sampleproject.settings.prod"
MANAGE = [sys.executable, "sampleproject/manage.py"]
GOOD_KEY = secrets.token_urlsafe(50)
NO_SECRET_KEY = "Set the DJANGO_SECRET_KEY environment variable to a long random string"


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
    }
    return subprocess.run(
        [*MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": MODULE, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_finds_no_issues():
    result = deploy_check(
        DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_ALLOWED_HOSTS="board.example.com"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_a_weak_secret_key_fails_check_deploy():
    result = deploy_check(
        DJANGO_SECRET_KEY="too-short", DJANGO_ALLOWED_HOSTS="board.example.com"
    )
    assert result.returncode != 0
    assert "(security.W009) Your SECRET_KEY has less than 50 characters" in (
        result.stderr
    )
    assert "System check identified 1 issue" in result.stderr


def test_a_missing_secret_key_stops_manage_py_with_the_reason():
    result = deploy_check(DJANGO_ALLOWED_HOSTS="board.example.com")
    assert result.returncode != 0
    assert NO_SECRET_KEY in result.stderr


# The same module imported here, where the values can be looked at.


@pytest.fixture
def load_prod(monkeypatch):
    def load(**env: str):
        for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_STATIC_ROOT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop(MODULE, None)
        return importlib.import_module(MODULE)

    yield load
    sys.modules.pop(MODULE, None)


def test_values_come_from_the_environment(load_prod, tmp_path):
    prod = load_prod(
        DJANGO_SECRET_KEY=GOOD_KEY,
        DJANGO_ALLOWED_HOSTS=" board.example.com, ,status.example.com,",
        DJANGO_STATIC_ROOT=str(tmp_path),
    )
    assert prod.SECRET_KEY == GOOD_KEY
    assert prod.ALLOWED_HOSTS == ["board.example.com", "status.example.com"]
    static_root = prod.STATIC_ROOT
    assert static_root == tmp_path
    assert prod.DEBUG is False
    assert prod.BOARD_ALLOWED_TARGETS == ()
    assert prod.SECURE_HSTS_SECONDS >= 365 * 24 * 60 * 60


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "board.example.com"}, NO_SECRET_KEY),
        (
            {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": " , "},
            "Set the DJANGO_ALLOWED_HOSTS environment variable to the host names",
        ),
    ],
    ids=["no secret key", "no hosts"],
)
def test_required_variables(load_prod, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_prod(**env)
