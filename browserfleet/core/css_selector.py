"""A selector checked before any browser sees it: one that cannot be CSS is the caller's mistake,
answered at submit (400) rather than by a job that fails later.

Selectors are Playwright's (the step runner, node/steps.py, hands them to it): parts chained with
``>>``, each naming its engine before a ``=`` (``css=``, ``xpath=``, ``text=``, ``id=``,
``internal:…``), or XPath when it starts with ``//`` or ``..``, text when quoted, and CSS
otherwise — the same split as Playwright's ``parseSelectorString``. Only the CSS parts are checked,
with cssselect's parser, once the arguments of functional pseudo-classes are set aside: Playwright
adds pseudo-classes of its own (``:has-text("…")``, ``:nth-match(li, 2)``, ``:right-of(#a)``) and
browsers take arguments cssselect does not parse (``:not(.a, .b)``, ``:nth-child(2n of .x)``). So
this refuses only what no browser takes as CSS (``0``, ``div[``, ``##a``, ``.a,``); a selector it
lets through may still be refused by the browser, which fails the job with ``INVALID_SELECTOR``.
"""

from __future__ import annotations

import re
from typing import Final

import cssselect

__all__ = ["check_selector", "native_css"]

_ENGINE: Final = re.compile(r"[a-zA-Z_0-9\-+:*]+")  # Playwright's engine names (``*`` captures)
_XPATH: Final = re.compile(r"\(*//")
_TEXT_PREFIX: Final = re.compile(r"\s*text\s*=(.*)", re.DOTALL)
_PSEUDO_NAME: Final = re.compile(r"::?-?[a-zA-Z_][\w-]*$")
_QUOTES: Final = "\"'`"
_DASHED: Final = re.compile(r"(?<![\w-])--")
_LEADING_COMBINATOR: Final = re.compile(r"(^|,)\s*[>+~]")  # each selector of a list may start so
# pseudo-classes of Playwright's own CSS engine, which a browser's querySelector does not know
_PLAYWRIGHT_PSEUDO: Final = re.compile(
    r":(has-text|text|text-is|text-matches|visible|nth-match|left-of|right-of|above|below|near|light)\b"
)


def check_selector(selector: str) -> str:
    """``selector`` unchanged, or ValueError saying why its CSS cannot be parsed."""
    for part in _css_parts(selector):
        if "\\" in part:
            continue  # escapes: Playwright's tokenizer and cssselect's differ at the edges
        css = _LEADING_COMBINATOR.sub(r"\1", _without_arguments(part))  # relative to the scope
        css = _DASHED.sub("_-", css)  # ``--x`` is an identifier (CSS Syntax 3); cssselect's is older
        try:
            cssselect.parse(css)
        except cssselect.SelectorError as exc:
            raise ValueError(f"not a valid CSS selector: {part.strip()!r} ({exc})") from None
    return selector


def native_css(selector: str) -> bool:
    """Is ``selector`` plain CSS, which a browser's ``querySelector`` takes as Playwright's CSS
    engine does (one part, no engine name, no pseudo-class of Playwright's own)?"""
    parts = _chain(selector)
    return len(parts) == 1 and _css_parts(selector) == parts and not _PLAYWRIGHT_PSEUDO.search(parts[0])


def _css_parts(selector: str) -> list[str]:
    """The bodies of the parts Playwright's engine split sends to its CSS engine."""
    parts: list[str] = []
    for part in _chain(selector):
        name, eq, body = part.partition("=")
        if eq and _ENGINE.fullmatch(name.strip()):
            if name.strip().lstrip("*") == "css":
                parts.append(body)
        elif len(part) > 1 and part[0] in "\"'" and part[-1] == part[0]:
            continue  # text
        elif _XPATH.match(part) or part.startswith(".."):
            continue  # XPath
        else:
            parts.append(part)
    return parts


def _chain(selector: str) -> list[str]:
    """``selector`` split at each ``>>`` outside quotes (Playwright's ``parseSelectorString``)."""
    if ">>" not in selector:
        return [selector.strip()]
    parts: list[str] = []
    quote: str | None = None
    start = index = 0
    while index < len(selector):
        char = selector[index]
        if char == "\\" and index + 1 < len(selector):
            index += 2
        elif char == quote:
            quote = None
            index += 1
        elif quote is None and char in _QUOTES and not _in_text_body(selector[start:index]):
            quote = char
            index += 1
        elif quote is None and selector.startswith(">>", index):
            parts.append(selector[start:index].strip())
            index += 2
            start = index
        else:
            index += 1
    parts.append(selector[start:index].strip())
    return parts


def _in_text_body(prefix: str) -> bool:
    """A quote after ``text=`` and some text is part of that text, not the start of a string."""
    found = _TEXT_PREFIX.fullmatch(prefix)
    return bool(found and found.group(1))


def _without_arguments(css: str) -> str:
    """``css`` with each functional pseudo-class's ``(…)`` removed (strings and escapes kept)."""
    out: list[str] = []
    index = 0
    while index < len(css):
        char = css[index]
        if char == "\\" and index + 1 < len(css):
            out.append(css[index : index + 2])
            index += 2
        elif char in "\"'":
            end = _string_end(css, index)
            out.append(css[index:end])
            index = end
        elif char == "(" and _PSEUDO_NAME.search("".join(out)):
            close = _closing(css, index)
            if close is None:
                out.append(css[index:])  # unbalanced: left for the parser to refuse
                break
            index = close + 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _string_end(css: str, start: int) -> int:
    """The index after the string that starts at ``start`` (the end of ``css`` if unclosed)."""
    index = start + 1
    while index < len(css):
        if css[index] == "\\":
            index += 2
        elif css[index] == css[start]:
            return index + 1
        else:
            index += 1
    return len(css)


def _closing(css: str, start: int) -> int | None:
    """The index of the ``)`` closing the ``(`` at ``start`` (nested, strings skipped), or None."""
    depth = 0
    index = start
    while index < len(css):
        char = css[index]
        if char == "\\":
            index += 2
            continue
        if char in "\"'":
            index = _string_end(css, index)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None
