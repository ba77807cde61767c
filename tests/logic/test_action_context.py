"""The context an action_succeeded receiver gets holds CKAN's ``model``,
``user_obj`` and, for dataset actions, ``package``."""

from __future__ import annotations

import collections.abc as c
import typing as t

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
