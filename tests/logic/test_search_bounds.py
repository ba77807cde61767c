"""Search input is bounded: past the configured length, terms or items it is a
ValidationError naming the field, refused before any query is built."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph.logic import ValidationError

Call = c.Callable[..., t.Any]
HUGE = " ".join(f"word{i}" for i in range(50_000))


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("package_search", {"q": HUGE}, "q"),
        ("package_search", {"fq": HUGE}, "fq"),
        ("package_search", {"fq_list": [HUGE]}, "fq_list"),
        ("package_search", {"fq_list": ["tags:sun"] * 5000}, "fq_list"),
        ("package_search", {"facet.field": [HUGE]}, "facet.field"),
        ("package_search", {"sort": HUGE}, "sort"),
        ("package_search", {"fl": HUGE}, "fl"),
        ("user_list", {"q": HUGE}, "q"),
        ("organization_list", {"q": HUGE}, "q"),
        ("group_list", {"q": HUGE}, "q"),
        ("organization_list", {"organizations": ["a"] * 5000}, "organizations"),
    ],
)
def test_oversized_search_input_is_refused_naming_the_field(
    call: Call, db: t.Any, action: str, data: dict[str, t.Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call(action, data)
    assert list(info.value.error_dict) == [field]
    assert "configuration key heliograph.search." in info.value.error_dict[field][0]


def test_the_terms_of_q_fq_and_fq_list_share_one_budget(
    call: Call, db: t.Any, setting: c.Callable[[str, t.Any], None]
) -> None:
    setting("heliograph.search.max_terms", 4)
    assert call("package_search", {"q": "a b", "fq": "c", "fq_list": ["d"]})["count"] == 0
    with pytest.raises(ValidationError) as info:
        call("package_search", {"q": "a b", "fq": "c", "fq_list": ["d", "e"]})
    assert list(info.value.error_dict) == ["fq_list"]
    with pytest.raises(ValidationError) as alone:
        call("package_search", {"q": "a b c d e"})
    assert list(alone.value.error_dict) == ["q"]


def test_the_bounds_are_configuration(
    call: Call, dataset: dict[str, t.Any], setting: c.Callable[[str, t.Any], None]
) -> None:
    words = " ".join(["sun"] * 60)
    with pytest.raises(ValidationError):
        call("package_search", {"q": words})
    setting("heliograph.search.max_terms", 100)
    assert call("package_search", {"q": words})["count"] == 1
    setting("heliograph.search.max_text_length", 10)
    with pytest.raises(ValidationError) as info:
        call("package_search", {"q": "sunspots and more"})
    assert info.value.error_dict["q"][0].startswith("Must be at most 10 characters long")
