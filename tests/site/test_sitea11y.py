"""The inline-diagram extension, alone: a renderer that cannot run is one warning."""

from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["sphinx.ext.graphviz", "_ext.sitea11y"]
graphviz_output_format = "svg"
graphviz_dot = "/nonexistent/graphviz-pure"
"""

PAGE = """
Page
====

.. graphviz::
   :alt: a to b

   digraph { a -> b }
"""


def test_a_renderer_that_cannot_run_is_a_warning_not_a_traceback(tmp_path):
    srcdir = write_project(tmp_path / "src", CONF, {"index.rst": PAGE})
    result = sphinx_build(srcdir, "html")
    assert result.returncode != 0
    assert "dot command '/nonexistent/graphviz-pure' cannot be run" in result.output
    assert "Traceback" not in result.output
    # Without -W the page still builds, showing the diagram's source.
    lenient = sphinx_build(srcdir, "html", strict=False)
    assert lenient.returncode == 0, lenient.output
    html = (lenient.outdir / "index.html").read_text()
    assert "digraph { a -&gt; b }" in html
