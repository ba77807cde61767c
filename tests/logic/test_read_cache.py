"""The read caches (package_show documents, package_search answers) never
serve a stale document, never serve a private one to a caller who may not
read it, and stay within their memory bound."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession

from heliograph import logic, model
from heliograph.logic import cache
from heliograph.logic.action import get
from heliograph.model import revision

Call = c.Callable[..., t.Any]


@pytest.fixture(autouse=True)
def _empty_caches() -> c.Iterator[None]:
    cache.datasets.clear()
    cache.searches.clear()
    yield
    cache.datasets.clear()
    cache.searches.clear()


def _hits() -> int:
    return cache.datasets.hits


def _dataset(call: Call, org: dict[str, t.Any], name: str, **extra: t.Any) -> dict[str, t.Any]:
    data = {"name": name, "title": f"Title of {name}", "owner_org": org["id"], **extra}
    return t.cast(dict[str, t.Any], call("package_create", data, user="editor"))


def test_a_second_show_is_a_hit_with_the_same_document(call: Call, org: dict[str, t.Any]) -> None:
    _dataset(call, org, "tides", tags=[{"name": "sea"}], resources=[{"url": "http://x/a"}])
    first = call("package_show", {"id": "tides"})
    before = _hits()
    second = call("package_show", {"id": "tides"})
    by_id = call("package_show", {"id": first["id"]})
    assert _hits() == before + 2
    assert second == first == by_id


def test_a_hit_hands_out_a_copy_its_caller_may_change(call: Call, org: dict[str, t.Any]) -> None:
    _dataset(call, org, "tides", tags=[{"name": "sea"}])
    call("package_show", {"id": "tides"})
    got = call("package_show", {"id": "tides"})
    got["title"] = "changed by the caller"
    got["tags"].clear()
    again = call("package_show", {"id": "tides"})
    assert again["title"] == "Title of tides" and [t["name"] for t in again["tags"]] == ["sea"]


def test_every_write_through_the_actions_shows_at_once(call: Call, org: dict[str, t.Any]) -> None:
    created = _dataset(call, org, "tides", resources=[{"url": "http://x/a", "name": "a"}])
    call("package_show", {"id": "tides"})
    call("package_patch", {"id": "tides", "notes": "new notes"}, user="editor")
    assert call("package_show", {"id": "tides"})["notes"] == "new notes"
    call("resource_patch", {"id": created["resources"][0]["id"], "name": "b"}, user="editor")
    assert call("package_show", {"id": "tides"})["resources"][0]["name"] == "b"
    # another table than the dataset's own: its organization's title
    call("organization_patch", {"id": org["id"], "title": "Renamed"}, user="admin")
    assert call("package_show", {"id": "tides"})["organization"]["title"] == "Renamed"
    group = call("group_create", {"name": "coasts"}, user="sysadmin")
    call("package_patch", {"id": "tides", "groups": [{"id": group["id"]}]}, user="sysadmin")
    call("package_show", {"id": "tides"})
    call("group_patch", {"id": group["id"], "title": "Coasts"}, user="sysadmin")
    assert call("package_show", {"id": "tides"})["groups"][0]["title"] == "Coasts"
    call("package_patch", {"id": "tides", "name": "tides-2"}, user="editor")
    with pytest.raises(logic.ObjectNotFound):
        call("package_show", {"id": "tides"})
    assert call("package_show", {"id": "tides-2"})["name"] == "tides-2"
    call("package_delete", {"id": "tides-2"}, user="editor")
    assert call("package_show", {"id": "tides-2"}, user="sysadmin")["state"] == "deleted"


def test_a_write_by_another_process_shows_at_once(
    call: Call, org: dict[str, t.Any], db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's commit reaches this one only through the revision
    token in the database: this process's commit hooks are switched off."""
    _dataset(call, org, "tides")
    call("package_show", {"id": "tides"})
    monkeypatch.setattr(revision, "_committed", [])  # no in-process clearing
    with OrmSession(db) as other:
        other.execute(
            sa.update(model.Package).where(model.Package.name == "tides").values(title="ORM bulk")
        )
        other.commit()
    assert call("package_show", {"id": "tides"})["title"] == "ORM bulk"
    with OrmSession(db) as other:
        package = other.scalars(sa.select(model.Package).where(model.Package.name == "tides")).one()
        package.title = "ORM object"
        other.commit()
    assert call("package_show", {"id": "tides"})["title"] == "ORM object"
    with OrmSession(db) as other:
        other.execute(sa.text("UPDATE package SET title = 'raw SQL' WHERE name = 'tides'"))
        other.commit()
    assert call("package_show", {"id": "tides"})["title"] == "raw SQL"
    with OrmSession(db) as other:  # a table the document shows other than the dataset's
        other.execute(sa.update(model.Group).values(title="Other org title"))
        other.commit()
    assert call("package_show", {"id": "tides"})["organization"]["title"] == "Other org title"


def test_uncommitted_writes_are_shown_to_their_session_only_and_never_kept(
    call: Call, org: dict[str, t.Any]
) -> None:
    _dataset(call, org, "tides")
    call("package_show", {"id": "tides"})
    session = model.Session()
    package = session.scalars(sa.select(model.Package).where(model.Package.name == "tides")).one()
    package.title = "not committed"
    session.flush()
    # the action's own function: through get_action the call would commit
    shown = get.package_show({"session": session, "user": None}, {"id": "tides"})
    assert shown["title"] == "not committed"
    assert len(cache.datasets) == 1  # what was kept before, not the uncommitted change
    session.rollback()
    assert call("package_show", {"id": "tides"})["title"] == "Title of tides"


def test_a_private_dataset_reaches_only_those_who_may_read_it(
    call: Call, org: dict[str, t.Any], people: dict[str, t.Any]
) -> None:
    _dataset(call, org, "secret", private=True)
    assert call("package_show", {"id": "secret"}, user="member")["private"] is True  # kept
    before = _hits()
    for caller in (None, "outsider"):
        with pytest.raises(logic.NotAuthorized):
            call("package_show", {"id": "secret"}, user=caller)
    assert _hits() == before + 2  # refused on a hit: the auth function saw the labels
    assert call("package_show", {"id": "secret"}, user="member")["name"] == "secret"
    # leaving the organization is a write: the member is refused at once
    session = model.Session()
    session.execute(
        sa.update(model.Member)
        .where(model.Member.table_id == people["member"].id)
        .values(state="deleted")
    )
    session.commit()
    with pytest.raises(logic.NotAuthorized):
        call("package_show", {"id": "secret"}, user="member")


def test_a_private_dataset_made_public_and_back(call: Call, org: dict[str, t.Any]) -> None:
    _dataset(call, org, "secret", private=True)
    call("package_show", {"id": "secret"}, user="member")
    call("package_patch", {"id": "secret", "private": False}, user="editor")
    assert call("package_show", {"id": "secret"})["private"] is False
    call("package_patch", {"id": "secret", "private": True}, user="editor")
    with pytest.raises(logic.NotAuthorized):
        call("package_show", {"id": "secret"})


def test_an_auth_function_a_plugin_puts_in_place_still_decides_on_a_hit(
    call: Call, org: dict[str, t.Any]
) -> None:
    _dataset(call, org, "tides")
    call("package_show", {"id": "tides"})
    refusals: list[str] = []

    @logic.auth_allow_anonymous_access
    def closed(context: t.Any, data_dict: t.Any) -> dict[str, t.Any]:
        refusals.append(data_dict["id"])
        return {"success": False, "msg": "closed today"}

    logic.registry.auth_functions()["package_show"] = closed
    before = _hits()
    with pytest.raises(logic.NotAuthorized, match="closed today"):
        call("package_show", {"id": "tides"})
    assert _hits() == before + 1 and len(refusals) == 1


def test_search_answers_are_kept_per_caller_labels(
    call: Call, org: dict[str, t.Any], people: dict[str, t.Any]
) -> None:
    _dataset(call, org, "open-data")
    _dataset(call, org, "secret", private=True)
    query = {"include_private": True, "facet.field": ["tags"]}
    names = {r["name"] for r in call("package_search", query, user="member")["results"]}
    assert names == {"open-data", "secret"}
    assert call("package_search", query, user="member")["count"] == 2  # a hit
    assert cache.searches.hits >= 1
    for caller in (None, "outsider"):
        found = call("package_search", query, user=caller)
        assert [r["name"] for r in found["results"]] == ["open-data"]
    call("package_patch", {"id": "open-data", "title": "Retitled"}, user="editor")
    found = call("package_search", {}, user=None)
    assert [r["title"] for r in found["results"]] == ["Retitled"]


def test_the_caches_stay_within_their_bound(
    call: Call, org: dict[str, t.Any], setting: c.Callable[[str, t.Any], None]
) -> None:
    for number in range(12):
        _dataset(call, org, f"set-{number:02d}", notes="n" * 400)
    setting("heliograph.cache.datasets_mb", 4096 / (1024 * 1024))  # 4 KB
    for number in range(12):
        call("package_show", {"id": f"set-{number:02d}"})
        assert cache.datasets.size <= 4096
    assert 0 < len(cache.datasets) < 12
    last = call("package_show", {"id": "set-11"})  # the newest is still kept: a hit
    assert last["name"] == "set-11"
    assert call("package_show", {"id": "set-00"})["name"] == "set-00"  # evicted: rebuilt
    setting("heliograph.cache.datasets_mb", 0)
    cache.datasets.clear()
    call("package_show", {"id": "set-03"})
    assert len(cache.datasets) == 0


def test_a_document_bigger_than_the_bound_is_not_kept() -> None:
    small = cache.Cache("heliograph.cache.test_mb", 100 / (1024 * 1024))
    assert small.put("token", "big", {"text": "x" * 500}) is None
    assert small.put("token", "small", {"text": "x"}) is not None
    assert small.get("token", "small") is not None
    assert small.get("another token", "small") is None  # another token empties it
    assert len(small) == 0 and small.size == 0


def test_the_token_is_read_on_the_threads_own_connection_as_the_session_sees_it(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    """Before a transaction the token comes from a connection of the thread's
    own (on PostgreSQL through libpq's prepared statement), never from the
    fallback through the session: both answers agree, and follow a commit."""
    _dataset(call, org, "tides")
    model.Session.remove()
    own = revision._read_on_own_connection(db)
    assert own is not revision._FAILED and isinstance(own, str)
    with OrmSession(db) as session:
        assert session.execute(sa.text(revision._TOKEN_SQL)).scalar() == own
    assert revision.current_token(model.Session) == own
    call("package_patch", {"id": "tides", "title": "changed"}, user="editor")
    model.Session.remove()
    after = revision._read_on_own_connection(db)
    assert isinstance(after, str) and after != own
    with OrmSession(db) as session:
        assert session.execute(sa.text(revision._TOKEN_SQL)).scalar() == after


def test_a_token_sent_ahead_answers_as_at_its_sending_and_never_after_settle(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    """``prefetch`` sends the token's query (on PostgreSQL; elsewhere nothing
    is sent and the read happens when asked). The next read takes its answer;
    once settled, an answer not taken is never used, so a read after a
    commit made by another connection (another process) sees that commit."""
    _dataset(call, org, "tides")
    model.Session.remove()
    before = revision.current_token(model.Session)
    assert isinstance(before, str)
    revision.prefetch(db)
    assert revision.current_token(model.Session) == before
    assert revision.settle() is True  # a token was read

    revision.prefetch(db)
    with db.begin() as conn:  # another process's write, as far as this one knows
        conn.execute(sa.text("UPDATE dataset_revision SET token = 'elsewhere' WHERE id = 1"))
    assert revision.settle() is False  # the answer sent ahead was not taken: dropped
    assert revision.current_token(model.Session) == "elsewhere"
    assert revision.settle() is True


def test_a_commit_of_the_thread_discards_the_token_it_sent_ahead(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    """An answer sent before this thread's own write predates that write:
    the read after the commit asks again and sees the commit's token."""
    _dataset(call, org, "tides")
    model.Session.remove()
    before = revision.current_token(model.Session)
    revision.prefetch(db)
    call("package_patch", {"id": "tides", "title": "changed"}, user="editor")
    model.Session.remove()
    after = revision.current_token(model.Session)
    revision.settle()
    with OrmSession(db) as session:
        assert session.execute(sa.text(revision._TOKEN_SQL)).scalar() == after
    assert after != before
    assert call("package_show", {"id": "tides"})["title"] == "changed"


def test_a_kept_document_comes_back_equal_whatever_its_strings() -> None:
    """Strings are kept as plain copies (one per distinct text): what comes
    back is equal to what was kept, keys, non-ASCII text, lone surrogates,
    tuples and numbers alike, and a fresh copy each time."""
    kept = cache.Cache("heliograph.cache.test_strings_mb", 1.0)
    document = {
        "name": "tides",
        "title": "Gezeiten \u2013 ß, 潮汐",
        "odd": "\udc80 half a pair",
        "tags": [{"name": "sea", "state": "active"}, {"name": "moon", "state": "active"}],
        "pair": (1, "name", 2.5, None, True),
        7: "an int key",
    }
    assert kept.put("token", "tides", document) is not None
    entry = kept.get("token", "tides")
    assert entry is not None
    first, second = entry.document(), entry.document()
    assert first == document == second and first is not second
    assert first["tags"][0] is not second["tags"][0]
