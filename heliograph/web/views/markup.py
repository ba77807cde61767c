"""Markdown for text users write (a dataset's notes), rendered safely.

:func:`render_markdown` parses CommonMark with markdown-it-py, raw HTML in the
source off (it is shown as text), then cleans the HTML with nh3 (Ammonia): only
an allow-list of tags and attributes stays, links keep ``http``, ``https`` and
``mailto`` addresses only and get ``rel="nofollow noopener noreferrer"``, so
no script, event handler, ``style`` or ``javascript:`` link reaches the page.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from heliograph.logic import cache

TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "abbr": {"title"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """``text`` as sanitised HTML, safe to put in a page as is."""
    if not text:
        return Markup("")
    return _render(str(text))


_rendered = cache.Cache("heliograph.cache.markdown_mb", 8.0)
"""The HTML of the texts shown most recently (a page shown again does not
parse and clean its description again), bounded by the HTML's size."""
_ANY = "markdown"  # the rendering of a text never goes stale: one token for all


def _render(text: str) -> Markup:
    entry = _rendered.get(_ANY, text)
    if entry is not None:
        return Markup(entry.document())
    html = _parser().render(text)
    cleaned = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )
    _rendered.put(_ANY, text, cleaned)
    return Markup(cleaned)
