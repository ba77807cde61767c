"""CKAN's wire behaviour where it differs from a plain validation error."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_search_parameter_is_ckans_search_query_error(
    client: FlaskClient, method: str
) -> None:
    if method == "GET":
        response = client.get("/api/3/action/package_search?q=sun&colour=red")
    else:
        response = client.post(
            "/api/3/action/package_search",
            data=json.dumps({"q": "sun", "colour": "red"}),
            content_type="application/json",
        )
    assert response.status_code == 400
    envelope = response.json
    assert envelope is not None and envelope["success"] is False
    assert envelope["error"]["__type"] == "Search Query Error"
    assert envelope["error"]["message"].startswith("Search Query is invalid: ")
    assert "colour" in envelope["error"]["message"]


def test_known_and_plugin_parameters_still_search(client: FlaskClient) -> None:
    response = client.get("/api/3/action/package_search?q=sun&ext_bbox=1,2,3,4")
    assert response.status_code == 200
    assert response.json is not None and response.json["result"]["count"] == 0
