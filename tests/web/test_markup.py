"""Rendered Markdown is kept, bounded by its size: a text shown again is not
parsed again, and gives exactly what a first rendering gives."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from heliograph.config import config
from heliograph.web.views import markup


@pytest.fixture(autouse=True)
def _empty() -> None:
    markup._rendered.clear()


def test_a_text_shown_again_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "# Tides\n\nSee <script>alert(1)</script> [the sea](javascript:alert(1))."
    first = markup.render_markdown(text)
    parsed: list[str] = []
    real = markup._parser

    def counting() -> object:
        parsed.append("parsed")
        return real()

    monkeypatch.setattr(markup, "_parser", counting)
    again = markup.render_markdown(text)
    assert parsed == []
    assert isinstance(again, Markup) and again == first
    assert "<script>" not in again and 'href="javascript' not in again
    markup.render_markdown(text + " More.")
    assert parsed == ["parsed"]


def test_the_kept_html_stays_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(config, "heliograph.cache.markdown_mb", 2000 / (1024 * 1024))
    for number in range(50):
        markup.render_markdown(f"Dataset {number} " + "word " * 20)
    assert 0 < markup._rendered.size <= 2000
    assert len(markup._rendered) < 50
    monkeypatch.setitem(config, "heliograph.cache.markdown_mb", 0)
    markup._rendered.clear()
    assert markup.render_markdown("*off*") == Markup("<p><em>off</em></p>\n")
    assert len(markup._rendered) == 0
