"""The minimal pages: home, dataset list and read, resource read, error pages."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

pytestmark = pytest.mark.usefixtures("stub_pages")


def test_home_page_renders(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert b"Heliograph" in response.data


def test_dataset_list_shows_search_results(client: FlaskClient) -> None:
    response = client.get("/dataset/?q=first")
    assert response.status_code == 200
    assert b"1 dataset found" in response.data
    assert b'href="/dataset/first"' in response.data


@pytest.mark.parametrize("query", ["?page=abc", "?page=-3", "?page=", "?q=%00"])
def test_dataset_list_shrugs_off_bad_parameters(client: FlaskClient, query: str) -> None:
    assert client.get(f"/dataset/{query}").status_code == 200


def test_dataset_page_shows_the_dataset_escaped(client: FlaskClient) -> None:
    response = client.get("/dataset/first")
    assert response.status_code == 200
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.data
    assert b"<script>" not in response.data
    assert b"Counts of things" in response.data
    assert b'href="/dataset/first/resource/res-1"' in response.data


def test_resource_page(client: FlaskClient) -> None:
    response = client.get("/dataset/first/resource/res-1")
    assert response.status_code == 200
    assert b"The CSV" in response.data
    assert client.get("/dataset/first/resource/nope").status_code == 404


def test_missing_dataset_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/dataset/nope")
    assert response.status_code == 404
    assert response.content_type == "text/html; charset=utf-8"
    assert b"404 Not found" in response.data


def test_forbidden_dataset_is_a_403_page(client: FlaskClient) -> None:
    response = client.get("/dataset/secret")
    assert response.status_code == 403
    assert b"403 Forbidden" in response.data


def test_unknown_page_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"404 Not found" in response.data


def test_wrong_method_on_a_page_is_a_405_page(client: FlaskClient) -> None:
    response = client.post("/dataset/first")
    assert response.status_code == 405
    assert response.content_type == "text/html; charset=utf-8"


def test_static_files_are_served(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.content_type.startswith("text/css")
