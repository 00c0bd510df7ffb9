"""HTML to markdown for ``POST /v1/fetch`` with ``format: markdown``.

No HTML-to-markdown library is a dependency yet; this is a deliberately small converter on the
standard library's HTMLParser: headings (#), paragraphs and line breaks, links [text](href),
images ![alt](src), list items (- ), emphasis, inline code and <pre> blocks. Scripts, styles and
the <head> are dropped; tables become one line per row with cells separated by " | ".
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "nav", "ul", "ol", "table", "tr", "br"}
    | {"blockquote", "form", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "hr", "aside", "figure"}
)
_SKIP = frozenset({"script", "style", "head", "noscript", "template", "svg"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPHS = frozenset({"p", "pre", "table", "ul", "ol"} | _HEADINGS)
_CLOSE = {"strong": "**", "b": "**", "em": "*", "i": "*"}
_OPEN = {**_CLOSE, "li": "- ", "td": " | ", "th": " | ", "hr": "---\n"}


class _Markdown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.links: list[str | None] = []

    def _newline(self, count: int = 1) -> None:
        text = "".join(self.out)
        trailing = len(text) - len(text.rstrip("\n"))
        if text and trailing < count:
            self.out.append("\n" * (count - trailing))

    def _block(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._newline(2 if tag in _PARAGRAPHS else 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        if self.skip:
            return
        self._block(tag)
        attr = dict(attrs)
        if tag in _HEADINGS:
            self.out.append("#" * int(tag[1]) + " ")
        elif tag == "pre":
            self.pre += 1
            self.out.append("```\n")
        elif tag == "code":
            self.out.append("" if self.pre else "`")
        elif tag == "a":
            self.links.append(attr.get("href"))
            self.out.append("[")
        elif tag == "img":
            self.out.append(f"![{attr.get('alt') or ''}]({attr.get('src') or ''})")
        else:
            self.out.append(_OPEN.get(tag, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._newline()
            self.out.append("```")
        elif tag == "code":
            self.out.append("" if self.pre else "`")
        elif tag == "a":
            href = self.links.pop() if self.links else None
            self.out.append(f"]({href})" if href else "]")
        else:
            self.out.append(_CLOSE.get(tag, ""))
        self._block(tag)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.out.append(data)
            return
        text = " ".join(data.split())
        if not text:
            return
        if data[:1].isspace() and self.out and not self.out[-1].endswith((" ", "\n", "[", "(")):
            text = " " + text
        if data[-1:].isspace():
            text += " "
        self.out.append(text)


def html_to_markdown(html: str) -> str:
    """A small, dependency-free HTML → markdown conversion (see the comment above)."""
    parser = _Markdown()
    parser.feed(html)
    parser.close()
    lines, fenced = [], False
    for line in "".join(parser.out).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append(line.rstrip() if fenced else line.strip())
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"
