"""user_create / show / list, passwords, API tokens."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from heliograph import model
from heliograph.logic import ObjectNotFound, ValidationError, tokens, users

Call = t.Callable[..., t.Any]
USER_KEYS = {
    "id", "name", "fullname", "display_name", "about", "created", "last_active", "state",
    "sysadmin", "image_url", "image_display_url", "email_hash", "number_created_packages",
    "activity_streams_email_notifications",
}  # fmt: skip
NEW = {
    "name": "bob",
    "email": "bob@example.org",
    "password": "correct-horse-9",
    "fullname": "Bob B",
}


def test_user_create_shape_and_hashed_password(call: Call, db: t.Any) -> None:
    bob = call("user_create", NEW)
    assert set(bob) >= USER_KEYS
    assert bob["email"] == "bob@example.org" and bob["apikey"] is None
    assert bob["display_name"] == "Bob B" and bob["sysadmin"] is False and bob["state"] == "active"
    assert "password" not in bob and "password_hash" not in bob
    row = model.Session().get(model.User, bob["id"])
    assert row is not None and row.password is not None
    assert row.password.startswith("$argon2") and "correct-horse-9" not in row.password
    assert row.password not in repr(bob)
    assert users.check_password(row, "correct-horse-9")
    assert not users.check_password(row, "wrong-horse-9")


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"name": None}, {"name": ["Missing value"]}),
        ({"email": None}, {"email": ["Missing value"]}),
        ({"password": None}, {"password": ["Missing value"]}),
        ({"password": "short"}, {"password": ["Your password must be 8 characters or longer"]}),
        ({"password": ["a", "list"]}, {"password": ["Passwords must be strings"]}),
        ({"email": "not-an-email"}, {"email": ["Email not-an-email is not a valid format"]}),
        (
            {"name": "Bob"},
            {
                "name": [
                    "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
                ]
            },
        ),
        ({"fullname": {"a": 1}}, {"fullname": ["Must be a string"]}),
    ],
)
def test_user_create_validation(
    call: Call, db: t.Any, change: dict[str, t.Any], errors: dict[str, t.Any]
) -> None:
    data = {k: v for k, v in {**NEW, **change}.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        call("user_create", data)
    assert info.value.error_dict == errors


def test_user_names_and_emails_are_unique(call: Call, db: t.Any) -> None:
    call("user_create", NEW)
    with pytest.raises(ValidationError) as info:
        call("user_create", {**NEW, "email": "other@example.org"})
    assert info.value.error_dict == {"name": ["That login name is not available."]}
    with pytest.raises(ValidationError) as mail:
        call("user_create", {**NEW, "name": "bobby", "email": "BOB@example.org"})
    assert mail.value.error_dict == {
        "email": ["The email address 'BOB@example.org' belongs to a registered user."]
    }


def test_only_sysadmins_make_sysadmins(call: Call, people: t.Any) -> None:
    assert call("user_create", {**NEW, "sysadmin": True})["sysadmin"] is False
    made = call(
        "user_create",
        {**NEW, "name": "root2", "email": "r@example.org", "sysadmin": True},
        user="sysadmin",
    )
    assert made["sysadmin"] is True


def test_user_create_with_apitoken(call: Call, db: t.Any) -> None:
    bob = call("user_create", {**NEW, "with_apitoken": True})
    user = tokens.user_for_token(model.Session(), bob["token"])
    assert user is not None and user.name == "bob"


def test_user_show_hides_email_from_others(call: Call, people: t.Any) -> None:
    assert "email" not in call("user_show", {"id": "editor"})
    assert "email" not in call("user_show", {"id": "editor"}, user="outsider")
    assert call("user_show", {"id": "editor"}, user="editor")["email"] == "editor@example.org"
    assert (
        call("user_show", {"id": people["editor"].id}, user="sysadmin")["email"]
        == "editor@example.org"
    )
    assert call("user_show", {}, user="editor")["name"] == "editor"
    with pytest.raises(ObjectNotFound):
        call("user_show", {"id": "ghost"})
    with pytest.raises(ObjectNotFound):
        call("user_show", {})


def test_password_hash_only_for_sysadmins_who_ask(call: Call, db: t.Any) -> None:
    call("user_create", NEW)
    session = model.Session()
    users.create_user(session, name="root", email="root@example.org", password=None, sysadmin=True)
    session.commit()
    assert "password_hash" not in call(
        "user_show", {"id": "bob", "include_password_hash": True}, user="bob"
    )
    shown = call("user_show", {"id": "bob", "include_password_hash": True}, user="root")
    assert shown["password_hash"].startswith("$argon2")


def test_user_show_include_datasets(
    call: Call, dataset: dict[str, t.Any], private_dataset: t.Any
) -> None:
    shown = call("user_show", {"id": "editor", "include_datasets": True})
    assert [d["name"] for d in shown["datasets"]] == ["sunspots"]
    assert shown["number_created_packages"] == 1
    own = call("user_show", {"id": "editor", "include_datasets": True}, user="editor")
    assert sorted(d["name"] for d in own["datasets"]) == ["flares", "sunspots"]


def test_user_list(call: Call, people: t.Any) -> None:
    listed = call("user_list")
    assert [u["name"] for u in listed] == ["admin", "editor", "member", "outsider", "sysadmin"]
    assert all("email" not in u for u in listed)
    assert call("user_list", {"all_fields": False, "q": "edit"}) == ["editor"]
    assert call("user_list", {"order_by": "name", "limit": 2, "all_fields": "false"}) == [
        "admin",
        "editor",
    ]
    session = model.Session()
    session.execute(
        sa.update(model.User).where(model.User.name == "member").values(state="deleted")
    )
    session.commit()
    assert "member" not in call("user_list", {"all_fields": False})
    with pytest.raises(ValidationError) as info:
        call("user_list", {"order_by": "password"})
    assert list(info.value.error_dict) == ["order_by"]


def test_api_token_create_stores_only_a_hash(call: Call, people: t.Any) -> None:
    result = call("api_token_create", {"user": "editor", "name": "laptop"}, user="editor")
    assert set(result) == {"token"}
    token = result["token"]
    session = model.Session()
    (row,) = session.scalars(sa.select(model.ApiToken)).all()
    assert row.id == tokens.token_id(token) and token not in (row.id, row.name)
    assert row.name == "laptop" and row.user_id == people["editor"].id
    user = tokens.user_for_token(session, token)
    assert user is not None and user.name == "editor"


def test_user_for_token_refuses_what_it_does_not_know(call: Call, people: t.Any) -> None:
    session = model.Session()
    token = call("api_token_create", {"user": "editor", "name": "t"}, user="editor")["token"]
    assert tokens.user_for_token(session, token + "x") is None
    assert tokens.user_for_token(session, "") is None
    assert tokens.user_for_token(session, None) is None
    assert tokens.user_for_token(session, "y" * 10_000) is None
    people["editor"].state = "deleted"
    session.commit()
    assert tokens.user_for_token(session, token) is None


def test_api_token_create_validation(call: Call, people: t.Any) -> None:
    with pytest.raises(ValidationError) as info:
        call("api_token_create", {}, user="editor")
    assert info.value.error_dict == {"user": ["Missing value"], "name": ["Missing value"]}
    with pytest.raises(ValidationError) as typed:
        call("api_token_create", {"user": "editor", "name": ["x"]}, user="editor")
    assert typed.value.error_dict == {"name": ["Must be a string"]}
    with pytest.raises(ObjectNotFound):
        call("api_token_create", {"user": "ghost", "name": "x"}, user="sysadmin")
