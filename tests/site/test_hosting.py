"""Read the Docs: its configuration, and conf.py reading what it sets."""

import json
import os
import subprocess
import sys

import yaml

from tests.support.sphinx import ROOT


def test_read_the_docs_builds_the_html_from_requirements_without_apt():
    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert config["version"] == 2
    assert config["build"]["tools"]["python"] == "3.13"  # Django 6.1's Python
    # graphviz-pure draws the diagrams: nothing from apt.
    assert "apt_packages" not in config["build"]
    assert config["python"]["install"] == [{"requirements": "requirements.txt"}]
    assert "graphviz-pure==" in (ROOT / "requirements.txt").read_text()
    assert config["sphinx"] == {
        "configuration": "conf.py",
        "builder": "html",
        "fail_on_warning": True,
    }


def conf_values(env: dict[str, str]) -> dict:
    """Some of conf.py's values, read in a fresh process with ``env``."""
    script = (
        "import runpy, json; c = runpy.run_path('conf.py');"
        "print(json.dumps({k: c[k] for k in ('html_baseurl', 'ogp_site_url',"
        " 'notfound_urls_prefix', 'html_theme_options')}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("READTHEDOCS")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_conf_takes_the_canonical_url_and_repository_from_read_the_docs():
    values = conf_values(
        {
            "READTHEDOCS_CANONICAL_URL": "https://example.org/en/stable/",
            "READTHEDOCS_GIT_CLONE_URL": "https://github.com/someone/fork.git",
            "READTHEDOCS_GIT_IDENTIFIER": "stable",
        }
    )
    assert values["html_baseurl"] == "https://example.org/en/stable/"
    assert values["ogp_site_url"] == values["html_baseurl"]
    assert values["notfound_urls_prefix"] == "/en/stable/"
    theme = values["html_theme_options"]
    assert theme["source_repository"] == "https://github.com/someone/fork/"
    assert theme["source_branch"] == "stable"


def test_conf_defaults_to_the_projects_own_urls():
    values = conf_values({})
    assert values["html_baseurl"].startswith("https://")
    assert values["notfound_urls_prefix"] == "/en/latest/"
    assert values["html_theme_options"]["source_repository"].startswith(
        "https://github.com/"
    )
