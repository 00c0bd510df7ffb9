"""``POST /v1/fetch`` ``format: markdown`` (core/sessions/markdown.py, on ``html-to-markdown``): tables,
nested lists, code blocks and relative links made absolute against the URL the page came from."""

from __future__ import annotations

from browserfleet.core.sessions.markdown import html_to_markdown

BASE = "http://127.0.0.1:8080/docs/guide/index.html"


def test_tables_are_gfm_with_pipes_escaped() -> None:
    html = (
        "<table><thead><tr><th>Name</th><th>Qty</th></tr></thead><tbody>"
        "<tr><td>Apple</td><td>3</td></tr><tr><td>Pear | Quince</td><td>5</td></tr></tbody></table>"
    )
    lines = html_to_markdown(html).splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    assert rows[0] == ["Name", "Qty"]
    assert all(set(cell) == {"-"} for cell in rows[1])
    assert rows[2] == ["Apple", "3"]
    assert rows[3] == ["Pear \\| Quince", "5"]  # the cell's own "|" does not split it


def test_nested_lists_are_indented_under_their_item() -> None:
    html = (
        "<ul><li>one<ul><li>one.a</li><li>one.b<ol><li>deep 1</li><li>deep 2</li></ol></li></ul></li>"
        "<li>two</li></ul>"
    )
    lines = html_to_markdown(html).splitlines()
    assert lines == ["- one", "  * one.a", "  * one.b", "    1. deep 1", "    2. deep 2", "- two"]


def test_code_blocks_are_fenced_with_language_and_whitespace_kept() -> None:
    code = "def double(x):\n    if x:\n        return  x * 2  # two spaces kept\n"
    html = f'<p>Before <code>a_b*c</code>.</p><pre><code class="language-python">{code}</code></pre>'
    markdown = html_to_markdown(html)
    assert "Before `a_b*c`." in markdown
    assert f"```python\n{code}```" in markdown


def test_relative_links_and_images_are_made_absolute_against_the_base() -> None:
    html = (
        '<p><a href="other.html">sibling</a> <a href="/api/json?n=2">rooted</a> '
        '<a href="../up.html">parent</a> <a href="#part">fragment</a> '
        '<a href="http://127.0.0.1:9/x">absolute</a> <img src="img/logo.png" alt="logo"></p>'
    )
    markdown = html_to_markdown(html, BASE)
    assert "[sibling](http://127.0.0.1:8080/docs/guide/other.html)" in markdown
    assert "[rooted](http://127.0.0.1:8080/api/json?n=2)" in markdown
    assert "[parent](http://127.0.0.1:8080/docs/up.html)" in markdown
    assert "[fragment](http://127.0.0.1:8080/docs/guide/index.html#part)" in markdown
    assert "[absolute](http://127.0.0.1:9/x)" in markdown
    assert "![logo](http://127.0.0.1:8080/docs/guide/img/logo.png)" in markdown
    assert "[sibling](other.html)" in html_to_markdown(html)  # no base: left as written


def test_head_scripts_styles_and_inline_svg_are_dropped() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style><script>var s = 1;</script></head>"
        "<body><h1>Title</h1><svg><text>drawn</text></svg><noscript>ns</noscript><p>Body</p></body></html>"
    )
    assert html_to_markdown(html) == "# Title\n\nBody\n"
