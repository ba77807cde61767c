"""An anonymous search of 50,000 words over HTTP is a 409 naming the field."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

pytestmark = pytest.mark.usefixtures("core_actions")

HUGE = " ".join(f"word{i}" for i in range(50_000))


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("package_search", {"q": HUGE}, "q"),
        ("package_search", {"fq_list": [HUGE, HUGE]}, "fq_list"),
        ("user_list", {"q": HUGE}, "q"),
    ],
)
def test_a_huge_anonymous_search_is_refused_naming_the_field(
    client: FlaskClient, action: str, data: dict[str, object], field: str
) -> None:
    response = client.post(
        f"/api/3/action/{action}", data=json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 409
    envelope = response.json
    assert envelope is not None
    assert envelope["error"]["__type"] == "Validation Error"
    assert field in envelope["error"]


def test_a_huge_search_page_is_a_bad_request_page(client: FlaskClient) -> None:
    response = client.get("/dataset/", query_string={"q": HUGE[:20_000]})
    assert response.status_code == 400
    assert "at most" in response.get_data(as_text=True)
