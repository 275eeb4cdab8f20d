"""_ext/tutorial.py and _ext/tutorialpage.py: what a tutorial page may say."""

import re
import zipfile

import pytest

from _ext.tutorialpage import (
    PageError,
    language_for,
    output_matches,
    parse_page,
)
from _ext.tutorialproject import changed_lines
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


def test_diff_from_shows_the_whole_file_with_the_changed_lines_highlighted(tmp_path):
    block = (
        "```{tutorial-file} app/models.py\n:source: src/new.py\n"
        ":diff-from: src/old.py\n```"
    )
    src = write_project(
        tmp_path / "src",
        CONF,
        {
            "index.md": page(block),
            "src/old.py": "A = 1\nB = 2\nC = 3\n",
            "src/new.py": "A = 1\nB = 20\nC = 3\nD = 4\n",
        },
    )
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    block_html = html.split("tutorial-changed", 1)[1].split("</pre>", 1)[0]
    highlighted = re.findall(r'<span class="hll">(.*?)\n</span>', block_html)
    text = [re.sub(r"<[^>]+>", "", line) for line in highlighted]
    assert text == ["B = 20", "D = 4"]  # the changed line and the new one
    shown = re.sub(r"<[^>]+>", "", block_html.split("<pre>", 1)[1])
    assert shown == "A = 1\nB = 20\nC = 3\nD = 4\n"  # the whole file, no diff
    assert str(tmp_path) not in html  # no path of the machine that built it


def test_changed_lines_are_those_the_earlier_version_lacks():
    assert changed_lines("a\nb\nc\n", "a\nB\nc\nd\n") == [2, 4]
    assert changed_lines("a\nb\n", "b\n") == []  # a removal adds nothing
    assert changed_lines("", "x\ny\n") == [1, 2]


def test_a_change_that_adds_nothing_fails_the_build(tmp_path):
    block = (
        "```{tutorial-file} app/models.py\n:source: src/new.py\n"
        ":diff-from: src/old.py\n```"
    )
    src = write_project(
        tmp_path / "src",
        CONF,
        {"index.md": page(block), "src/old.py": "A = 1\n", "src/new.py": "A = 1\n"},
    )
    result = sphinx_build(src, "html")
    assert result.returncode != 0
    assert "adds no line" in result.output


DOWNLOAD = (
    "```{tutorial-download} app/policy.py\n:source: src/policy.py\n"
    ":interface: check Refused\n```"
)
POLICY = (
    '"""A long policy."""\n\n\nclass Refused(ValueError):\n'
    '    """A URL the policy refuses."""\n\n\n'
    "def check(url: str) -> None:\n"
    '    """Raise Refused for a private address.\n\n    Details.\n    """\n'
    "    secret_detail = 1\n"
)


def test_a_ready_file_is_a_download_with_its_interface(tmp_path):
    src = write_project(
        tmp_path / "src",
        CONF,
        {"index.md": page(DOWNLOAD), "src/policy.py": POLICY},
    )
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    html = (result.outdir / "index.html").read_text()
    link = re.search(
        r'<a class="reference download internal" download="" href="([^"]+)"', html
    )
    assert link, html
    downloaded = result.outdir / link[1]
    assert downloaded.read_text() == POLICY  # the repository file itself
    assert f"({len(POLICY.splitlines())} lines) and save it as" in html
    interface_html = html.split("tutorial-interface", 1)[1].split("</pre>", 1)[0]
    shown = re.sub(r"<[^>]+>", "", interface_html)
    assert "def check(url: str) -&gt; None:" in shown
    assert "Raise Refused for a private address." in shown
    assert "class Refused(ValueError):" in shown
    assert "secret_detail" not in shown
    assert "Details." not in shown


def test_a_ready_file_without_the_named_interface_fails_the_build(tmp_path):
    src = write_project(
        tmp_path / "src",
        CONF,
        {
            "index.md": page(DOWNLOAD.replace("check Refused", "check Gone")),
            "src/policy.py": POLICY,
        },
    )
    result = sphinx_build(src, "html")
    assert result.returncode != 0
    assert "no top-level 'Gone'" in result.output


def test_each_part_offers_its_project_as_a_zip_and_the_pace_table(tmp_path):
    part1 = page(
        "```{tutorial-file} app/a.py\n:source: src/a1.py\n```",
        "```{tutorial-shell}\n$ true\n```",
        "```{tutorial-project}\n```",
    )
    part2 = page(
        "```{tutorial-file} app/a.py\n:source: src/a2.py\n:diff-from: src/a1.py\n```",
        "```{tutorial-download} app/b.py\n:source: src/b.py\n```",
        "```{tutorial-project}\n```",
        "```{tutorial-pace}\n```",
    )
    src = write_project(
        tmp_path / "src",
        CONF,
        {
            "index.md": "# Home\n\n```{toctree}\ntutorial/01-a\ntutorial/02-b\n```\n",
            "tutorial/01-a.md": part1,
            "tutorial/02-b.md": part2,
            "src/a1.py": "A = 1\n",
            "src/a2.py": "A = 1\n\nB = 2\n",
            "src/b.py": "C = 3\nD = 4\n",
        },
    )
    result = sphinx_build(src, "html")
    assert result.returncode == 0, result.output
    html = (result.outdir / "tutorial/02-b.html").read_text()
    href = re.search(r'href="([^"]*statusboard-after-part-02\.zip)"', html)[1]
    zipped = result.outdir / "tutorial" / href
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == [
            "statusboard/app/a.py",
            "statusboard/app/b.py",
        ]
        assert archive.read("statusboard/app/a.py") == b"A = 1\n\nB = 2\n"
    with zipfile.ZipFile(
        result.outdir / "_downloads/tutorial/statusboard-after-part-01.zip"
    ) as archive:
        assert archive.read("statusboard/app/a.py") == b"A = 1\n"
    cells = re.findall(r"<td><p>([^<]*)</p></td>", html.split("tutorial-pace", 1)[1])
    # Part 1: one line written, one command; part 2: one changed line, two downloaded.
    assert cells == ["01-a", "2", "0", "02-b", "1", "2", "In all", "3", "2"]


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
