"""Organization and group forms: create, edit, delete and the members page.

Added to every group blueprint by :func:`add_group_routes` (``/new``,
``/edit/<id>``, ``/delete/<id>``, ``/members/<id>``, ``/member_new/<id>``,
``/member_delete/<id>``, CKAN's paths). What a caller can rely on:

- each form posts through the actions (``organization_create``/``_update``/
  ``_delete``, ``organization_member_create``/``_delete`` and the group
  ones) with the logged-in user's context, so CKAN's permissions apply: the
  auth functions refuse, the page answers 403 with their reason;
- a POST without a valid CSRF token is refused (400) before any action runs;
- an anonymous visitor of a form page is sent to log in, and comes back;
- a ``ValidationError`` re-renders the form (400) with every message beside
  its field; a name left empty is made from the title.
"""

from __future__ import annotations

import re
import typing as t

import flask
from flask import Blueprint
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, Forbidden, NotFound
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField  # type: ignore[import-untyped]

from heliograph import logic
from heliograph.web import identity
from heliograph.web.views import call_action, forms, page_context


class GroupForm(FlaskForm):  # type: ignore[misc]
    title = StringField("Title")
    name = StringField(
        "URL name",
        description="Lower-case letters, digits, - and _ (made from the title when left empty).",
    )
    description = TextAreaField("Description")
    image_url = StringField("Image URL", description="The address of a logo or picture.")


GROUP_TEXT = ("title", "name", "description", "image_url")


def name_from_title(title: str) -> str:
    """A URL name made from ``title``: lower-case ASCII letters, digits and ``-``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")
    return re.sub(r"-{2,}", "-", name)[:100]


def login_redirect() -> Response | None:
    """For an anonymous caller, the redirect to the login page that comes back
    here afterwards; None for a logged-in one."""
    if identity.identify()[1] is not None:
        return None
    target = flask.request.full_path if flask.request.query_string else flask.request.path
    flask.flash("Please log in first.")
    return flask.redirect(flask.url_for("user.login", next=target))


def add_group_routes(blueprint: Blueprint, group_type: str, *, is_organization: bool) -> None:
    """The form pages on the blueprint of ``group_type``."""
    prefix = "organization" if is_organization else "group"
    noun = "organization" if is_organization else "group"

    def show(id: str, **extra: t.Any) -> dict[str, t.Any]:
        group: dict[str, t.Any] = call_action(f"{prefix}_show", {"id": id, **extra})
        if group.get("type", prefix) != group_type:
            raise NotFound(f"{id} is not a {group_type}.")
        return group

    def read_url(group: dict[str, t.Any]) -> str:
        return flask.url_for(f"{group_type}.read", id=group["name"])

    def data_from(form: GroupForm) -> dict[str, t.Any]:
        data = {key: (form[key].data or "").strip() for key in GROUP_TEXT}
        if not data["name"] and data["title"]:
            data["name"] = name_from_title(data["title"])
        return data

    def save(
        form: GroupForm,
        action: str,
        data: dict[str, t.Any] | None,
        saved: str,
        group: dict[str, t.Any] | None = None,
    ) -> t.Any:
        """Run ``action`` on the form's valid ``data`` (None: not submitted or
        invalid) and go to the group's page; else the form again, with its errors."""
        errors: dict[str, list[str]] = {}
        if data is not None:
            result, errors = forms._run(action, data)
            if result is not None:
                flask.flash(saved)
                return flask.redirect(read_url(result))
        errors = forms._collect_errors(form, errors)
        return forms._render(
            "group/edit.html",
            form,
            errors,
            400 if errors else 200,
            group_type=group_type,
            is_organization=is_organization,
            group=group,
        )

    def new() -> t.Any:
        refused = login_redirect()
        if refused is not None:
            return refused
        forms._require(f"{prefix}_create", {"type": group_type})
        form = GroupForm()
        data = {**data_from(form), "type": group_type} if form.validate_on_submit() else None
        return save(
            form, f"{prefix}_create", data, f"The {noun} has been created. You are its admin."
        )

    def edit(id: str) -> t.Any:
        refused = login_redirect()
        if refused is not None:
            return refused
        group = show(id, include_datasets=False, include_users=False)
        forms._require(f"{prefix}_update", {"id": group["id"]})
        if flask.request.method == "GET":
            form = GroupForm(data={key: group.get(key) or "" for key in GROUP_TEXT})
        else:
            form = GroupForm()
        data = None
        if form.validate_on_submit():
            data = {**data_from(form), "id": group["id"]}
            if not data["name"]:
                data["name"] = group["name"]
        return save(form, f"{prefix}_patch", data, f"The {noun} has been saved.", group)

    def delete(id: str) -> t.Any:
        refused = login_redirect()
        if refused is not None:
            return refused
        group = show(id, include_datasets=False, include_users=False)
        forms._require(f"{prefix}_delete", {"id": group["id"]})
        error = None
        if flask.request.method == "POST":
            try:
                logic.get_action(f"{prefix}_delete")(page_context(), {"id": group["id"]})
            except logic.ValidationError as exc:
                error = exc.summary()
            except logic.NotAuthorized as exc:
                raise Forbidden(exc.message or None) from None
            else:
                flask.flash(f"The {noun} {group.get('title') or group['name']} has been deleted.")
                return flask.redirect(flask.url_for(f"{group_type}.index"))
        body = flask.render_template(
            "group/delete.html",
            group_type=group_type,
            is_organization=is_organization,
            group=group,
            error=error,
        )
        return body, 409 if error else 200

    def members(id: str) -> t.Any:
        refused = login_redirect()
        if refused is not None:
            return refused
        group = show(id, include_datasets=False, include_users=True)
        forms._require(f"{prefix}_member_create", {"id": group["id"]})
        roles = call_action("member_roles_list", {"group_type": prefix})
        return flask.render_template(
            "group/members.html",
            group_type=group_type,
            is_organization=is_organization,
            group=group,
            roles=roles,
            users=group.get("users") or [],
            username=flask.request.args.get("username", ""),
            error=None,
        )

    def member_new(id: str) -> t.Any:
        group = show(id, include_datasets=False, include_users=False)
        username = flask.request.form.get("username", "").strip()
        role = flask.request.form.get("role", "").strip()
        try:
            logic.get_action(f"{prefix}_member_create")(
                page_context(), {"id": group["id"], "username": username, "role": role}
            )
        except logic.NotAuthorized as exc:
            raise Forbidden(exc.message or None) from None
        except (logic.ObjectNotFound, logic.ValidationError) as exc:
            if isinstance(exc, logic.ValidationError):
                message = exc.summary()
            elif username:
                message = f"There is no user called {username!r}."
            else:
                message = "Enter a user name."
            shown = show(id, include_datasets=False, include_users=True)
            body = flask.render_template(
                "group/members.html",
                group_type=group_type,
                is_organization=is_organization,
                group=shown,
                roles=call_action("member_roles_list", {"group_type": prefix}),
                users=shown.get("users") or [],
                username=username,
                error=message,
            )
            return body, 400
        flask.flash(f"{username} is now {'an' if role == 'admin' else 'a'} {role} of this {noun}.")
        return flask.redirect(flask.url_for(f"{group_type}.members", id=group["name"]))

    def member_delete(id: str) -> t.Any:
        group = show(id, include_datasets=False, include_users=False)
        user_id = flask.request.form.get("user_id", "").strip()
        if not user_id:
            raise BadRequest("Say which user to remove (user_id).")
        call_action(f"{prefix}_member_delete", {"id": group["id"], "user_id": user_id})
        user = call_action("user_show", {"id": user_id})
        flask.flash(f"{user['name']} is no longer a member of this {noun}.")
        return flask.redirect(flask.url_for(f"{group_type}.members", id=group["name"]))

    blueprint.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    blueprint.add_url_rule("/edit/<id>", "edit", edit, methods=["GET", "POST"])
    blueprint.add_url_rule("/delete/<id>", "delete", delete, methods=["GET", "POST"])
    blueprint.add_url_rule("/members/<id>", "members", members)
    blueprint.add_url_rule("/member_new/<id>", "member_new", member_new, methods=["POST"])
    blueprint.add_url_rule("/member_delete/<id>", "member_delete", member_delete, methods=["POST"])


def no_organization_page(package_type: str) -> t.Any:
    """What ``/dataset/new`` answers a caller who may not create datasets: an
    anonymous visitor is sent to log in (and back); a logged-in user without
    an organization is told why, and offered the way - create an organization
    when the site allows it, else whom to ask. None when the caller may."""
    refused = login_redirect()
    if refused is not None:
        return refused
    context = page_context()
    try:
        logic.check_access("package_create", context, {"type": package_type})
        return None
    except logic.NotAuthorized:
        pass
    mine = call_action("organization_list_for_user", {})
    may_create_org = forms.may("organization_create", {})
    organizations = [] if may_create_org else call_action("organization_list", {"all_fields": True})
    sysadmins = [] if may_create_org else _sysadmins()
    body = flask.render_template(
        "dataset/no_organization.html",
        package_type=package_type,
        memberships=mine,
        may_create_org=may_create_org,
        organizations=organizations,
        admins={org["id"]: _admins(org["id"]) for org in organizations},
        sysadmins=sysadmins,
    )
    return body, 403


def _admins(group_id: str) -> list[str]:
    from heliograph import model
    from heliograph.logic import auth as authz

    rows = call_action("member_list", {"id": group_id, "object_type": "user", "capacity": "admin"})
    names = []
    for user_id, _kind, _capacity in rows:
        user = authz.user_by_id_or_name({"session": model.Session}, user_id)
        if user is not None and user.state == "active":
            names.append(user.name)
    return sorted(names)


def _sysadmins() -> list[str]:
    from sqlalchemy import select

    from heliograph import model

    return list(
        model.Session.scalars(
            select(model.User.name)
            .where(model.User.sysadmin.is_(True), model.User.state == "active")
            .order_by(model.User.name)
        )
    )
