"""HTML to markdown for ``POST /v1/fetch`` with ``format: markdown``, on PyPI ``html-to-markdown``.

Why that library (compared with ``markdownify`` and ``html2text``; docs/sessions.md, "Fetch"): it
writes GFM tables with ``|`` inside a cell escaped, nested ordered/unordered lists indented under
their item, fenced code blocks that keep their language (``class="language-…"``) and their
whitespace, and it resolves relative links and image sources against a base URL itself. It has no
dependencies and is MIT-licensed (html2text is GPL-3.0).

What is dropped: ``<head>`` (no front matter: ``extract_metadata`` is off), scripts, styles,
``<noscript>``, ``<template>``, hidden elements, and inline ``<svg>`` (it would otherwise become a
base64 image).
"""

from __future__ import annotations

from html_to_markdown import ConversionOptions, convert

_EXCLUDED = ["svg"]


def html_to_markdown(html: str, base_url: str | None = None) -> str:
    """``html`` as markdown; relative links and image sources are made absolute against ``base_url``
    (the URL the HTML was fetched from, after redirects)."""
    options = ConversionOptions(
        extract_metadata=False,
        exclude_selectors=list(_EXCLUDED),
        base_url=base_url or None,
    )
    text = (convert(html, options).content or "").strip()
    return text + "\n" if text else ""
