"""The dataset revision's query sent as a request starts: only for GET and
HEAD requests of a kind seen reading the token, and never at the cost of a
stale answer."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from heliograph.model import revision

Call = c.Callable[..., t.Any]


@pytest.fixture
def sent_ahead(monkeypatch: pytest.MonkeyPatch) -> list[sa.Engine]:
    sent: list[sa.Engine] = []
    real = revision.prefetch

    def counting(engine: sa.Engine) -> None:
        sent.append(engine)
        real(engine)

    monkeypatch.setattr(revision, "prefetch", counting)
    return sent


def test_a_kind_that_read_the_token_sends_its_query_ahead_and_stays_fresh(
    app: Flask, call: Call, org: dict[str, t.Any], db: sa.Engine, sent_ahead: list[sa.Engine]
) -> None:
    call("package_create", {"name": "tides", "owner_org": org["id"]}, user="editor")
    client = app.test_client()
    show = "/api/3/action/package_show?id=tides"

    assert client.get(show).status_code == 200
    assert sent_ahead == []  # not known yet to read the token
    assert client.get(show).json["result"]["title"] == "tides"
    assert len(sent_ahead) == 1  # learned: sent as the request started

    # another process renames it between two requests: the next one shows it
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE package SET title = 'Renamed' WHERE name = 'tides'"))
        conn.execute(sa.text("UPDATE dataset_revision SET token = 'elsewhere' WHERE id = 1"))
    assert client.get(show).json["result"]["title"] == "Renamed"
    assert len(sent_ahead) == 2

    assert client.get("/api/3/action/status_show").status_code == 200
    assert client.get("/api/3/action/status_show").status_code == 200
    assert len(sent_ahead) == 2  # another action, which reads no token: nothing sent

    assert client.post("/api/3/action/package_show", json={"id": "tides"}).status_code == 200
    assert len(sent_ahead) == 2  # only GET and HEAD send ahead


def test_the_dataset_page_learns_too(
    app: Flask, call: Call, org: dict[str, t.Any], sent_ahead: list[sa.Engine]
) -> None:
    call("package_create", {"name": "tides", "owner_org": org["id"]}, user="editor")
    client = app.test_client()
    for _ in range(3):
        assert client.get("/dataset/tides").status_code == 200
    assert len(sent_ahead) == 2


def test_nothing_is_sent_ahead_while_another_request_is_under_way(
    app: Flask, call: Call, org: dict[str, t.Any], sent_ahead: list[sa.Engine]
) -> None:
    """With other requests under way the thread waits in libpq's one call
    (less CPU, the others use the time); alone again, it sends ahead."""
    call("package_create", {"name": "tides", "owner_org": org["id"]}, user="editor")
    client = app.test_client()
    show = "/api/3/action/package_show?id=tides"
    client.get(show)  # learned
    with app.test_request_context("/api/3/action/status_show"):
        app.preprocess_request()  # a request under way
        assert client.get(show).json["result"]["name"] == "tides"
        assert sent_ahead == []
    assert client.get(show).status_code == 200
    assert len(sent_ahead) == 1
