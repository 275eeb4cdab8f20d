"""_ext/tutorial.py and _ext/tutorialpage.py: what a tutorial page may say."""

import pytest

from _ext.tutorialpage import (
    PageError,
    language_for,
    output_matches,
    parse_page,
)
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.blockcheck", "_ext.tutorial"]
"""


def page(*blocks: str) -> str:
    return "# Part\n\n" + "\n\n".join(blocks) + "\n"


FILE = "```{tutorial-file} app/models.py\n:source: src/models.py\n```"
SHELL = (
    "```{tutorial-shell}\n$ python manage.py check\n"
    "System check identified no issues (0 silenced).\n```"
)


def test_steps_come_out_in_page_order():
    steps = parse_page(page(FILE, SHELL))
    assert [step.kind for step in steps] == ["file", "shell"]
    assert steps[0].destination == "app/models.py"
    assert steps[0].language == "python"
    assert steps[1].commands[0].line == "python manage.py check"
    assert steps[1].commands[0].expected == [
        "System check identified no issues (0 silenced)."
    ]
    assert steps[1].lineno == 7


def test_options_are_read():
    text = page(
        "```{tutorial-shell}\n:django: before 6.0\n:exit: 1\n:timeout: 5\n"
        ":needs: redis\n"
        ":replay-env: DELAY=10 N=2\n$ false\n```"
    )
    (step,) = parse_page(text)
    assert step.django == ("before", (6, 0))
    assert step.applies_to((5, 2))
    assert not step.applies_to((6, 1))
    assert (step.exit_status, step.timeout, step.needs) == (1, 5.0, "redis")
    assert step.replay_env == {"DELAY": "10", "N": "2"}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "```{tutorial-shell}\n:replay: skip\n$ pip install x\n```",
            "needs a :reason:",
        ),
        ("```{tutorial-shell}\n:replay: later\n:reason: r\n$ x\n```", "only 'skip'"),
        (
            "```{tutorial-shell}\n:colour: red\n$ x\n```",
            "unknown tutorial-shell option",
        ),
        ("```{tutorial-shell}\noutput first\n$ x\n```", "output before any"),
        ("```{tutorial-shell}\n:django: >=6.0\n$ x\n```", "expects 'since 6.0'"),
        ("```{tutorial-shell}\n:needs: mysql\n$ x\n```", ":needs: accepts"),
        ("```{tutorial-shell}\n:server: http://example.com/\n$ x\n```", "127.0.0.1"),
        (
            "```{tutorial-shell}\n:server: http://127.0.0.1:8000/\n$ a\n$ b\n```",
            "one command",
        ),
        (
            "```{tutorial-file} ../etc/passwd\n:source: x.py\n```",
            "relative destination",
        ),
        ("```{tutorial-file} a.py\n```", "needs :source:"),
    ],
)
def test_bad_blocks_say_what_is_wrong(block, message):
    with pytest.raises(PageError, match=message) as info:
        parse_page(page(block))
    assert str(info.value).startswith("line 3:")


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        (["a", "b"], "a\nb\n", True),
        (["a", "b"], "a  \nb\n\n", True),
        (["a", "b"], "a\nc\n", False),
        (["...", "b"], "x\ny\nb\n", True),
        (["...", "b"], "b\n", True),
        (["took ... s"], "took 0.21 s\n", True),
        (["took ... s"], "took 0.21 ms\n", False),
        (["a"], "a\nextra\n", False),
    ],
)
def test_output_matching(expected, actual, matches):
    assert output_matches(expected, actual) is matches


def test_languages_follow_the_suffix():
    assert [language_for(p) for p in ("a.py", "b.html", "c.js", "d")] == [
        "python",
        "html+django",
        "javascript",
        "text",
    ]


def test_pages_render_files_and_sessions(tmp_path):
    src = write_project(
        tmp_path / "src",
        CONF,
        {
            "index.md": page(FILE, SHELL),
            "src/models.py": "class Service:\n    pass\n",
        },
    )
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert "app/models.py" in html  # the caption is where the reader writes it
    assert "Service" in html
    assert "System check identified no issues" in html
    assert "tutorial-shell" in html


def test_diff_from_shows_the_change(tmp_path):
    block = (
        "```{tutorial-file} app/models.py\n:source: src/new.py\n"
        ":diff-from: src/old.py\n```"
    )
    src = write_project(
        tmp_path / "src",
        CONF,
        {
            "index.md": page(block),
            "src/old.py": "A = 1\n",
            "src/new.py": "A = 1\nB = 2\n",
        },
    )
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    assert '<span class="gi">+B = 2</span>' in html  # Pygments marks the new line
    assert "app/models.py (before)" in html
    assert str(tmp_path) not in html  # no path of the machine that built it


def test_a_bad_block_fails_the_build(tmp_path):
    src = write_project(
        tmp_path / "src",
        CONF,
        {"index.md": page("```{tutorial-shell}\n:replay: skip\n$ pip install x\n```")},
    )
    result = sphinx_build(src, "html")
    assert result.returncode != 0
    assert "needs a :reason:" in result.output


def test_version_blocks_are_labelled(tmp_path):
    block = (
        "```{tutorial-shell}\n:django: before 6.0\n"
        "$ python -m pip install Django~=5.2\n```"
    )
    src = write_project(tmp_path / "src", CONF, {"index.md": page(block)})
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    assert "On Django 5.2 and earlier:" in (result.outdir / "index.html").read_text()


def test_a_since_block_builds_and_says_so(tmp_path):
    block = "```{tutorial-shell}\n:django: since 6.0\n$ python -m django --version\n```"
    src = write_project(tmp_path / "src", CONF, {"index.md": page(block)})
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    assert "On Django 6.0 and later:" in (result.outdir / "index.html").read_text()


def test_since_and_before_pick_the_versions_they_name():
    since, before = parse_page(
        page(
            "```{tutorial-shell}\n:django: since 6.0\n$ a\n```",
            "```{tutorial-shell}\n:django: before 6.0\n$ b\n```",
        )
    )
    assert [since.applies_to(v) for v in ((5, 2), (6, 0), (6, 1))] == [
        False,
        True,
        True,
    ]
    assert [before.applies_to(v) for v in ((5, 2), (6, 0), (6, 1))] == [
        True,
        False,
        False,
    ]
