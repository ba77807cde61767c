"""datastore_search input within the portal's search bounds."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph.logic import ValidationError

Call = c.Callable[..., t.Any]
HUGE = " ".join(f"word{i}" for i in range(50_000))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"q": HUGE}, "q"),
        ({"q": {"name": HUGE}}, "q"),
        ({"filters": {"name": HUGE}}, "filters"),
        ({"filters": {"name": ["x"] * 5000}}, "filters"),
        ({"fields": ",".join(["name"] * 5000)}, "fields"),
        ({"sort": ["name"] * 5000}, "sort"),
    ],
)
def test_oversized_datastore_search_is_refused_naming_the_field(
    call: Call, table: str, data: dict[str, t.Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call("datastore_search", {"resource_id": table, **data})
    assert list(info.value.error_dict) == [field]


def test_search_within_the_bounds_works(call: Call, table: str) -> None:
    found = call("datastore_search", {"resource_id": table, "q": "sunspot ridge"})
    assert [r["id"] for r in found["records"]] == [1]
