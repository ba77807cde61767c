"""action_succeeded: once per successful call, nested calls first, nothing on failure."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest
import sqlalchemy as sa

from heliograph import logic, model
from heliograph.lib import signals
from heliograph.logic import ValidationError
from heliograph.signals import isolate_failures

Call = t.Callable[..., t.Any]
Record = list[tuple[t.Any, dict[str, t.Any]]]


def senders(record: Record) -> list[t.Any]:
    return [sender for sender, _kwargs in record]


def packages() -> int:
    return int(model.Session().scalar(sa.select(sa.func.count()).select_from(model.Package)) or 0)


def test_one_send_with_the_documented_arguments(
    call: Call, org: dict[str, t.Any], sent: Record
) -> None:
    data = {"name": "sunspots", "owner_org": org["id"]}
    result = call("package_create", data, user="editor")
    assert senders(sent) == ["package_create"]
    kwargs = sent[0][1]
    assert set(kwargs) == {"context", "data_dict", "result"}
    assert kwargs["result"] == result
    assert kwargs["data_dict"] is data
    assert kwargs["context"]["user"] == "editor"


def test_read_actions_send_too(call: Call, dataset: dict[str, t.Any], sent: Record) -> None:
    call("package_show", {"id": "sunspots"})
    call("package_search", {})
    call("status_show")
    assert senders(sent) == ["package_show", "package_search", "status_show"]


def test_package_patch_sends_show_update_patch(
    call: Call, dataset: dict[str, t.Any], sent: Record
) -> None:
    result = call("package_patch", {"id": "sunspots", "notes": "x"}, user="editor")
    assert senders(sent) == ["package_show", "package_update", "package_patch"]
    assert sent[-1][1]["result"] == result == sent[1][1]["result"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("resource_create", ["package_show", "package_update", "resource_create"]),
        ("resource_update", ["package_show", "package_update", "resource_update"]),
        ("resource_delete", ["package_show", "package_update", "resource_delete"]),
        ("resource_show", ["package_show", "resource_show"]),
    ],
)
def test_resource_actions_send_their_nested_calls_first(
    call: Call, dataset: dict[str, t.Any], sent: Record, action: str, expected: list[str]
) -> None:
    res_id = dataset["resources"][0]["id"]
    data = (
        {"package_id": "sunspots", "url": "http://x"}
        if action == "resource_create"
        else {"id": res_id}
    )
    call(action, data, user="editor")
    assert senders(sent) == expected


@pytest.mark.parametrize("kind", ["organization", "group"])
def test_group_create_sends_member_create_and_show_first(
    call: Call, people: t.Any, sent: Record, kind: str
) -> None:
    call(f"{kind}_create", {"name": "astronomy"}, user="editor")
    assert senders(sent) == ["member_create", f"{kind}_show", f"{kind}_create"]
    assert sent[0][1]["data_dict"]["capacity"] == "admin"


def test_user_create_with_apitoken_sends_api_token_create_first(
    call: Call, db: t.Any, sent: Record
) -> None:
    call(
        "user_create",
        {"name": "bob", "email": "b@example.org", "password": "12345678", "with_apitoken": True},
    )
    assert senders(sent) == ["api_token_create", "user_create"]


def test_a_failing_action_sends_nothing_and_changes_nothing(
    call: Call, dataset: dict[str, t.Any], sent: Record
) -> None:
    before = packages()
    with pytest.raises(ValidationError):
        call(
            "package_create", {"name": "sunspots", "owner_org": dataset["owner_org"]}, user="editor"
        )
    with pytest.raises(logic.NotAuthorized):
        call("package_update", {"id": "sunspots", "title": "hacked"}, user="outsider")
    with pytest.raises(ValidationError):
        call("resource_create", {"package_id": "sunspots", "size": "big"}, user="editor")
    assert "package_create" not in senders(sent) and "resource_create" not in senders(sent)
    assert "package_update" not in senders(sent)
    assert senders(sent) == ["package_show"]  # resource_create's nested show succeeded
    assert packages() == before
    assert call("package_show", {"id": "sunspots"})["title"] == "Sunspot counts"


@pytest.fixture
def write_then_fail(monkeypatch: pytest.MonkeyPatch, db: t.Any) -> c.Iterator[None]:
    """A test action that creates a dataset (nested package_create) and then raises."""
    from heliograph.logic import action as core_actions
    from heliograph.logic import auth as core_auth

    real_actions, real_auth = core_actions.collect, core_auth.collect

    def hg_test_write_then_fail(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> None:
        logic.get_action("package_create")(context, data_dict)
        raise ValidationError({"after": ["the write"]})

    monkeypatch.setattr(
        core_actions,
        "collect",
        lambda: {**real_actions(), "hg_test_write_then_fail": hg_test_write_then_fail},
    )
    monkeypatch.setattr(
        core_auth,
        "collect",
        lambda: {**real_auth(), "hg_test_write_then_fail": lambda c, d: {"success": True}},
    )
    logic.registry.reset()
    yield
    monkeypatch.undo()
    logic.registry.reset()


def test_a_failure_after_a_nested_write_rolls_the_write_back(
    call: Call, org: dict[str, t.Any], sent: Record, write_then_fail: None
) -> None:
    with pytest.raises(ValidationError):
        call("hg_test_write_then_fail", {"name": "doomed", "owner_org": org["id"]}, user="editor")
    assert senders(sent) == ["package_create"]  # the nested call returned, so it sent
    assert packages() == 0


def test_a_raising_subscriber_does_not_change_the_outcome(
    call: Call, org: dict[str, t.Any], sent: Record
) -> None:
    def broken(sender: t.Any, **kwargs: t.Any) -> None:
        raise RuntimeError("subscriber bug")

    previous = isolate_failures(True)
    try:
        with signals.action_succeeded.connected_to(broken):
            result = call(
                "package_create", {"name": "robust", "owner_org": org["id"]}, user="editor"
            )
    finally:
        isolate_failures(previous)
    assert result["name"] == "robust"
    assert call("package_show", {"id": "robust"})["id"] == result["id"]
    assert senders(sent).count("package_create") == 1


def test_a_subscriber_filtered_by_sender_hears_only_its_action(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    heard: list[t.Any] = []

    def on_update(sender: t.Any, **kwargs: t.Any) -> None:
        heard.append(kwargs["result"]["notes"])

    with signals.action_succeeded.connected_to(on_update, sender="package_update"):
        call("package_patch", {"id": "sunspots", "notes": "patched"}, user="editor")
        call("package_show", {"id": "sunspots"})
    assert heard == ["patched"]
