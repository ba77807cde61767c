"""action_succeeded inside the action's transaction, vetoes, and action_committed."""

from __future__ import annotations

import collections.abc as c
import typing as t
import uuid

import pytest
import sqlalchemy as sa

from heliograph import model
from heliograph.lib import signals
from heliograph.logic import NotAuthorized, ValidationError
from heliograph.signals import isolate_failures

Call = c.Callable[..., t.Any]


def committed(engine: sa.Engine, query: t.Any) -> list[t.Any]:
    """What a separate connection sees: only committed rows."""
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def tag_names(engine: sa.Engine) -> list[str]:
    return committed(engine, sa.select(model.Tag.name).order_by(model.Tag.name))


def package_names(engine: sa.Engine) -> list[str]:
    return committed(engine, sa.select(model.Package.name).order_by(model.Package.name))


def writes_a_tag(sender: t.Any, **kwargs: t.Any) -> None:
    """A receiver that writes through the action's session."""
    kwargs["context"]["session"].add(model.Tag(id=str(uuid.uuid4()), name=f"seen-{sender}"))


def test_a_receivers_write_commits_with_the_change(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    with signals.action_succeeded.connected_to(writes_a_tag, sender="package_create"):
        call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    assert package_names(db) == ["sunspots"]
    assert tag_names(db) == ["seen-package_create"]


def test_a_receivers_write_rolls_back_with_a_failing_outer_action(
    call: Call, dataset: dict[str, t.Any], db: sa.Engine
) -> None:
    # package_patch runs package_update nested: the update succeeds and its
    # receiver writes, then a receiver of package_patch vetoes the outer call.
    def veto(_sender: t.Any, **_kwargs: t.Any) -> None:
        raise ValidationError({"notes": ["vetoed"]})

    with (
        signals.action_succeeded.connected_to(writes_a_tag, sender="package_update"),
        signals.action_succeeded.connected_to(veto, sender="package_patch"),
        pytest.raises(ValidationError, match="vetoed"),
    ):
        call("package_patch", {"id": "sunspots", "notes": "changed"}, user="editor")
    assert tag_names(db) == ["sun"]
    assert call("package_show", {"id": "sunspots"})["notes"] == "Daily sunspot numbers"


@pytest.mark.parametrize("isolate", [True, False], ids=["isolate", "raise"])
def test_an_action_error_from_a_receiver_vetoes_the_change(
    call: Call, org: dict[str, t.Any], db: sa.Engine, isolate: bool
) -> None:
    ran: list[str] = []

    def veto(_sender: t.Any, **_kwargs: t.Any) -> None:
        ran.append("veto")
        raise NotAuthorized("not today")

    def after(_sender: t.Any, **_kwargs: t.Any) -> None:
        ran.append("after")

    before = isolate_failures(isolate)
    try:
        with (
            signals.action_succeeded.connected_to(veto),
            signals.action_succeeded.connected_to(after),
            pytest.raises(NotAuthorized, match="not today"),
        ):
            call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    finally:
        isolate_failures(before)
    assert package_names(db) == []
    assert ran == (["veto", "after"] if isolate else ["veto"])


@pytest.mark.usefixtures("production_switches")
def test_another_failure_is_isolated_and_the_change_commits(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    def broken(_sender: t.Any, **_kwargs: t.Any) -> None:
        raise RuntimeError("a bug in a subscriber")

    with signals.action_succeeded.connected_to(broken):
        result = call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    assert result["name"] == "sunspots"
    assert package_names(db) == ["sunspots"]


def test_the_change_is_not_yet_committed_while_receivers_run(
    call: Call, org: dict[str, t.Any], db: sa.Engine
) -> None:
    seen: list[list[str]] = []

    def look(_sender: t.Any, **_kwargs: t.Any) -> None:
        seen.append(package_names(db))

    with signals.action_succeeded.connected_to(look, sender="package_create"):
        call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    assert seen == [[]]
    assert package_names(db) == ["sunspots"]


# -- action_committed ------------------------------------------------------------


@pytest.fixture
def committed_sends(db: sa.Engine) -> c.Iterator[list[tuple[str, list[str]]]]:
    """(sender, dataset names committed at that moment) for each action_committed."""
    record: list[tuple[str, list[str]]] = []

    def receiver(sender: str, **kwargs: t.Any) -> None:
        assert set(kwargs) == {"context", "data_dict", "result"}
        record.append((sender, package_names(db)))

    with signals.action_committed.connected_to(receiver):
        yield record


def test_action_committed_follows_the_commit_once_per_call_in_order(
    call: Call, dataset: dict[str, t.Any], committed_sends: list[tuple[str, list[str]]]
) -> None:
    call("package_patch", {"id": "sunspots", "notes": "x"}, user="editor")
    assert [sender for sender, _ in committed_sends] == [
        "package_show",
        "package_update",
        "package_patch",
    ]
    call("package_create", {"name": "flares", "owner_org": dataset["owner_org"]}, user="editor")
    assert committed_sends[-1] == ("package_create", ["flares", "sunspots"])


def test_action_committed_carries_what_action_succeeded_carried(
    call: Call, org: dict[str, t.Any]
) -> None:
    succeeded: list[dict[str, t.Any]] = []
    done: list[dict[str, t.Any]] = []
    with (
        signals.action_succeeded.connected_to(lambda s, **kw: succeeded.append(kw)),
        signals.action_committed.connected_to(lambda s, **kw: done.append(kw)),
    ):
        call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    assert len(done) == len(succeeded) == 1
    assert done[0]["result"] is succeeded[0]["result"]
    assert done[0]["data_dict"] is succeeded[0]["data_dict"]


def test_nothing_is_committed_or_announced_for_a_failure_or_a_veto(
    call: Call, dataset: dict[str, t.Any], committed_sends: list[tuple[str, list[str]]]
) -> None:
    with pytest.raises(ValidationError):
        call("package_patch", {"id": "sunspots", "name": ""}, user="editor")

    def veto(_sender: t.Any, **_kwargs: t.Any) -> None:
        raise ValidationError({"x": ["no"]})

    with (
        signals.action_succeeded.connected_to(veto, sender="package_update"),
        pytest.raises(ValidationError),
    ):
        call("package_patch", {"id": "sunspots", "notes": "y"}, user="editor")
    assert committed_sends == []
