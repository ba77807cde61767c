"""The context an action_succeeded receiver gets holds CKAN's ``model``,
``user_obj`` and, for dataset actions, ``package``."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph import model
from heliograph.lib import signals

Call = c.Callable[..., t.Any]


def _ckan_style_receiver(seen: list[tuple[t.Any, ...]]) -> c.Callable[..., None]:
    """A receiver as CKAN extensions write it, reading only the context."""

    def on_action(sender: str, **kwargs: t.Any) -> None:
        context = kwargs["context"]
        ckan_model = context["model"]
        package = context.get("package")
        user = context.get("user_obj")
        seen.append(
            (
                sender,
                ckan_model is model,
                package.name if isinstance(package, ckan_model.Package) else None,
                user.name if isinstance(user, ckan_model.User) else None,
            )
        )

    return on_action


def test_dataset_actions_carry_model_user_obj_and_package(
    call: Call, org: dict[str, t.Any]
) -> None:
    seen: list[tuple[t.Any, ...]] = []
    with signals.action_succeeded.connected_to(_ckan_style_receiver(seen)):
        created = call("package_create", {"name": "tides", "owner_org": org["id"]}, user="editor")
        call("package_patch", {"id": created["id"], "notes": "n"}, user="editor")
        call("package_show", {"id": "tides"})
        call("package_delete", {"id": "tides"}, user="admin")
    by_sender = {sender: rest for sender, *rest in seen}
    assert by_sender["package_create"] == [True, "tides", "editor"]
    assert by_sender["package_update"] == [True, "tides", "editor"]
    assert by_sender["package_patch"] == [True, "tides", "editor"]
    assert by_sender["package_show"] == [True, "tides", None]  # anonymous
    assert by_sender["package_delete"] == [True, "tides", "admin"]


def test_user_actions_carry_the_user_they_are_about(call: Call, people: dict[str, t.Any]) -> None:
    seen: list[tuple[t.Any, ...]] = []
    with signals.action_succeeded.connected_to(_ckan_style_receiver(seen)):
        call("user_update", {"id": "editor", "fullname": "Ed"}, user="sysadmin")
        call("user_show", {"id": "member"}, user="sysadmin")
        call("organization_list", {}, user="outsider")
    by_sender = {sender: rest for sender, *rest in seen}
    assert by_sender["user_update"] == [True, None, "editor"]
    assert by_sender["user_show"] == [True, None, "member"]
    assert by_sender["organization_list"] == [True, None, "outsider"]


def test_the_contract_documents_the_context_keys() -> None:
    meaning = signals.action_succeeded.contract.arguments["context"]
    for key in ("'model'", "'user_obj'", "'package'", "'session'"):
        assert key in meaning


@pytest.mark.usefixtures("production_switches")  # the argument guard reads every value
def test_an_action_context_looks_the_package_up_only_when_a_receiver_reads_it(
    call: Call, org: dict[str, t.Any], db: t.Any
) -> None:
    import sqlalchemy as sa

    from heliograph import logic

    call("package_create", {"name": "tides", "owner_org": org["id"]}, user="editor")
    statements: list[str] = []

    def count(_conn: t.Any, _cursor: t.Any, statement: str, *_args: t.Any) -> None:
        statements.append(statement)

    seen: list[t.Any] = []

    def silent(sender: str, **kwargs: t.Any) -> None:
        seen.append(sender)

    def reader(sender: str, **kwargs: t.Any) -> None:
        context = kwargs["context"]
        seen.append((context["package"].name, "package" in context, dict(context)["package"]))

    logic.get_action("package_show")(logic.ActionContext(), {"id": "tides"})  # a cached hit next
    sa.event.listen(db, "before_cursor_execute", count)
    try:
        with signals.action_succeeded.connected_to(silent):
            logic.get_action("package_show")(logic.ActionContext(), {"id": "tides"})
        assert seen == ["package_show"]
        assert not [s for s in statements if "FROM package" in s]  # never looked up
        with signals.action_succeeded.connected_to(reader):
            logic.get_action("package_show")(logic.ActionContext(), {"id": "tides"})
    finally:
        sa.event.remove(db, "before_cursor_execute", count)
    name, present, copied = seen[1]
    assert (name, present) == ("tides", True) and isinstance(copied, model.Package)
    missing = logic.ActionContext()
    missing.later("package", lambda: None)
    assert "package" not in missing and missing.get("package") is None and dict(missing) == {}
