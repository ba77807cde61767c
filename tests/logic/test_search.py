"""package_search over the database: q, fq, rows, start, sort, facets, privacy."""

from __future__ import annotations

import typing as t

import pytest

from heliograph.logic import ValidationError

Call = t.Callable[..., t.Any]


@pytest.fixture
def catalog(call: Call, org: dict[str, t.Any]) -> dict[str, t.Any]:
    """Four public datasets in two organizations, and a private one."""
    other = call("organization_create", {"name": "moon-watchers"}, user="admin")
    specs = [
        ("sunspots", "Sunspot counts", "Daily numbers", ["sun", "counts"], org["id"]),
        ("flares", "Solar flares", "X-ray events on the Sun", ["sun"], org["id"]),
        ("craters", "Lunar craters", "Diameters", ["moon"], other["id"]),
        ("tides", "Tide heights", "Harbour gauges, lunar influence", ["sea"], other["id"]),
    ]
    for name, title, notes, tags, owner in specs:
        call(
            "package_create",
            {
                "name": name,
                "title": title,
                "notes": notes,
                "owner_org": owner,
                "tags": [{"name": tag} for tag in tags],
                "resources": [{"url": f"http://example.org/{name}.csv", "format": "CSV"}],
            },
            user="admin",
        )
    call(
        "package_create",
        {"name": "secret-sun", "title": "Secret sun data", "owner_org": org["id"], "private": True},
        user="admin",
    )
    return {"org": org, "other": other}


def names(result: dict[str, t.Any]) -> list[str]:
    return [r["name"] for r in result["results"]]


def test_result_shape(call: Call, catalog: t.Any) -> None:
    result = call("package_search", {})
    assert set(result) == {"count", "results", "facets", "search_facets", "sort"}
    assert result["count"] == 4 and len(result["results"]) == 4
    assert result["sort"] == "score desc, metadata_modified desc"
    assert result["facets"] == {} and result["search_facets"] == {}
    assert result["results"][0]["organization"]["name"] in ("sun-watchers", "moon-watchers")
    assert names(call("package_search", {"q": "*:*"})) == names(result)


def test_q_matches_title_notes_and_tags_case_insensitively(call: Call, catalog: t.Any) -> None:
    assert names(call("package_search", {"q": "sunspot"})) == ["sunspots"]
    assert names(call("package_search", {"q": "X-RAY"})) == ["flares"]
    assert sorted(names(call("package_search", {"q": "lunar"}))) == ["craters", "tides"]
    assert sorted(names(call("package_search", {"q": "moon"}))) == ["craters"]
    assert names(call("package_search", {"q": "lunar harbour"})) == ["tides"]
    assert names(call("package_search", {"q": "nothing-like-this"})) == []
    assert names(call("package_search", {"q": "100%_"})) == []


def test_fq_on_organization_and_tags(call: Call, catalog: t.Any) -> None:
    by_org = call("package_search", {"fq": "organization:moon-watchers"})
    assert sorted(names(by_org)) == ["craters", "tides"]
    assert sorted(names(call("package_search", {"fq": "tags:sun"}))) == ["flares", "sunspots"]
    both = call("package_search", {"fq": "tags:sun organization:sun-watchers", "q": "daily"})
    assert names(both) == ["sunspots"]
    assert names(call("package_search", {"fq": "-tags:sun +organization:sun-watchers"})) == []
    assert names(call("package_search", {"fq_list": ["tags:moon"]})) == ["craters"]
    assert names(call("package_search", {"q": "tags:sea"})) == ["tides"]
    assert names(call("package_search", {"fq": 'tags:"sea"'})) == ["tides"]


def test_unknown_fq_field_names_the_parameter(call: Call, catalog: t.Any) -> None:
    with pytest.raises(ValidationError) as info:
        call("package_search", {"fq": "colour:red"})
    assert list(info.value.error_dict) == ["fq"]


def test_sort(call: Call, catalog: t.Any) -> None:
    assert names(call("package_search", {"sort": "name asc"})) == [
        "craters",
        "flares",
        "sunspots",
        "tides",
    ]
    assert names(call("package_search", {"sort": "name desc"})) == [
        "tides",
        "sunspots",
        "flares",
        "craters",
    ]
    call("package_patch", {"id": "craters", "notes": "touched"}, user="admin")
    assert names(call("package_search", {"sort": "metadata_modified desc"}))[0] == "craters"
    assert names(call("package_search", {"sort": "title_string asc"}))[0] == "craters"
    with pytest.raises(ValidationError) as info:
        call("package_search", {"sort": "colour asc"})
    assert list(info.value.error_dict) == ["sort"]


def test_rows_and_start(call: Call, catalog: t.Any, setting: t.Any) -> None:
    page = call("package_search", {"rows": 2, "start": 1, "sort": "name asc"})
    assert page["count"] == 4 and names(page) == ["flares", "sunspots"]
    assert names(call("package_search", {"rows": "1", "sort": "name asc"})) == ["craters"]
    setting("heliograph.search.rows_max", 3)
    capped = call("package_search", {"rows": 1000})
    assert capped["count"] == 4 and len(capped["results"]) == 3


def test_rows_defaults_to_ten(call: Call, org: dict[str, t.Any]) -> None:
    for i in range(12):
        call("package_create", {"name": f"data-{i:02d}", "owner_org": org["id"]}, user="admin")
    result = call("package_search", {})
    assert result["count"] == 12 and len(result["results"]) == 10


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"rows": {"a": 1}}, {"rows": ["Invalid integer"]}),
        ({"rows": "ten"}, {"rows": ["Invalid integer"]}),
        ({"rows": -1}, {"rows": ["Must be a natural number"]}),
        ({"start": [1]}, {"start": ["Invalid integer"]}),
        ({"q": ["a"]}, {"q": ["Must be a string"]}),
        ({"colour": "red"}, {"colour": ["Invalid search parameter"]}),
    ],
)
def test_bad_parameters_name_the_field(
    call: Call, db: t.Any, data: dict[str, t.Any], errors: dict[str, t.Any]
) -> None:
    with pytest.raises(ValidationError) as info:
        call("package_search", data)
    assert info.value.error_dict == errors


def test_private_datasets_need_include_private_and_permission(call: Call, catalog: t.Any) -> None:
    assert "secret-sun" not in names(call("package_search", {"q": "secret"}, user="admin"))
    for user, expected in [
        ("sysadmin", True),
        ("admin", True),
        ("editor", True),
        ("member", True),
        ("outsider", False),
        (None, False),
    ]:
        found = names(call("package_search", {"q": "secret", "include_private": True}, user=user))
        assert ("secret-sun" in found) is expected, user


def test_drafts_and_deleted_are_left_out_by_default(call: Call, catalog: t.Any) -> None:
    call("package_delete", {"id": "tides"}, user="admin")
    assert "tides" not in names(call("package_search", {"rows": 100}))
    deleted = call("package_search", {"include_deleted": True, "q": "tide"}, user="admin")
    assert names(deleted) == ["tides"]
    assert names(call("package_search", {"include_deleted": True, "q": "tide"})) == []


def test_facets_count_the_whole_match(call: Call, catalog: t.Any) -> None:
    result = call(
        "package_search",
        {"rows": 1, "facet.field": '["organization", "tags", "res_format"]'},
    )
    assert result["facets"]["organization"] == {"sun-watchers": 2, "moon-watchers": 2}
    assert result["facets"]["tags"] == {"sun": 2, "counts": 1, "moon": 1, "sea": 1}
    assert result["facets"]["res_format"] == {"CSV": 4}
    items = result["search_facets"]["organization"]["items"]
    assert {"name": "sun-watchers", "display_name": "Sun Watchers", "count": 2} in items
    assert result["search_facets"]["tags"]["title"] == "tags"


def test_fl_limits_the_fields(call: Call, catalog: t.Any) -> None:
    result = call("package_search", {"fl": "id,name", "sort": "name asc", "rows": 1})
    assert list(result["results"][0]) == ["id", "name"]
