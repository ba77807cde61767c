"""Managing a dataset from its pages: deleting it, and its groups.

- ``/<type>/delete/<id>``: a confirmation page (GET); the POST (with its CSRF
  token) runs ``package_delete`` and lands on the search page. Whoever
  ``package_delete``'s auth function refuses gets the 403 page.
- ``/<type>/groups/<id>``: the groups the dataset is in, and a form adding it
  to one of the groups the caller may add datasets to (``member_create`` with
  ``object_type=package``, CKAN's ``group_added`` field); beside each group
  the caller may take it out of, a Remove button (``member_delete``, the
  group's id in ``group_removed``).

Every POST goes through a Flask-WTF form, so one without a valid CSRF token
is refused (400) before any action runs.
"""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, NotFound
from wtforms import HiddenField, SelectField  # type: ignore[import-untyped]

from heliograph.web.views import call_action, forms, page_context


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """A form with only its CSRF token: a POST that confirms."""


class AddToGroupForm(FlaskForm):  # type: ignore[misc]
    group_added = SelectField("Add to the group", validate_choice=False)


class RemoveFromGroupForm(FlaskForm):  # type: ignore[misc]
    group_removed = HiddenField()


def _package(id: str, package_type: str) -> dict[str, t.Any]:
    pkg: dict[str, t.Any] = call_action("package_show", {"id": id})
    if pkg.get("type", "dataset") != package_type:
        raise NotFound(f"Dataset {id} is not of type {package_type}.")
    return pkg


def addable_groups(pkg: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The groups (not organizations) the caller may add ``pkg`` to and that
    do not hold it yet."""
    if not page_context().get("user"):
        return []  # anonymous callers may add to no group
    holding = {group["id"] for group in pkg.get("groups") or []}
    found = []
    for group in call_action("group_list", {"all_fields": True}):
        if not isinstance(group, dict) or group["id"] in holding:
            continue
        if forms.may("member_create", {"id": group["id"], "object_type": "package"}):
            found.append(group)
    return found


def removable_groups(pkg: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The groups (not organizations) holding ``pkg`` that the caller may take it out of."""
    if not page_context().get("user"):
        return []
    return [
        group
        for group in pkg.get("groups") or []
        if forms.may("member_delete", {"id": group["id"], "object_type": "package"})
    ]


def group_title(group: dict[str, t.Any]) -> str:
    """What a group is shown as: its display name, else its title, else its name."""
    return str(group.get("display_name") or group.get("title") or group["name"])


def add_routes(blueprint: Blueprint, package_type: str) -> None:
    """``/delete/<id>`` and ``/groups/<id>`` on the dataset blueprint of ``package_type``."""

    def delete(id: str) -> t.Any:
        pkg = _package(id, package_type)
        forms.require("package_delete", {"id": pkg["id"]})
        form = ConfirmForm()
        if form.validate_on_submit():
            call_action("package_delete", {"id": pkg["id"]})
            flask.flash(f"The dataset {pkg.get('title') or pkg['name']} has been deleted.")
            return flask.redirect(flask.url_for(f"{package_type}.search"))
        if flask.request.method == "POST":
            raise BadRequest("The form has expired: reload the page and confirm again.")
        return flask.render_template(
            "dataset/delete.html", form=form, pkg=pkg, package_type=package_type
        )

    def groups(id: str) -> t.Any:
        pkg = _package(id, package_type)
        candidates = addable_groups(pkg)
        removable = removable_groups(pkg)
        form = AddToGroupForm()
        form.group_added.choices = [(group["id"], group_title(group)) for group in candidates]
        remove_form = RemoveFromGroupForm()
        errors: list[str] = []
        if flask.request.method == "POST" and "group_removed" in flask.request.form:
            if not remove_form.validate_on_submit():
                raise BadRequest("The form has expired: reload the page and try again.")
            chosen = remove_form.group_removed.data
            group = next((g for g in removable if g["id"] == chosen), None)
            if group is None:
                errors.append(
                    "Choose one of the groups listed: you may not remove it from that one."
                )
            else:
                call_action(
                    "member_delete",
                    {"id": group["id"], "object": pkg["id"], "object_type": "package"},
                )
                flask.flash(f"The dataset is no longer in the group {group_title(group)}.")
                return flask.redirect(flask.url_for(f"{package_type}.groups", id=pkg["name"]))
        elif flask.request.method == "POST":
            if not form.validate_on_submit():
                raise BadRequest("The form has expired: reload the page and try again.")
            chosen = form.group_added.data
            group = next((g for g in candidates if g["id"] == chosen), None)
            if group is None:
                errors.append("Choose one of the groups listed: you may not add it to that one.")
            else:
                call_action(
                    "member_create",
                    {
                        "id": group["id"],
                        "object": pkg["id"],
                        "object_type": "package",
                        "capacity": "public",
                    },
                )
                flask.flash(f"The dataset is now in the group {group_title(group)}.")
                return flask.redirect(flask.url_for(f"{package_type}.groups", id=pkg["name"]))
        body = flask.render_template(
            "dataset/groups.html",
            form=form,
            pkg=pkg,
            package_type=package_type,
            candidates=candidates,
            removable={group["id"] for group in removable},
            removing="group_removed" in flask.request.form,
            errors=errors,
        )
        return body, 400 if errors else 200

    blueprint.add_url_rule("/delete/<id>", "delete", delete, methods=["GET", "POST"])
    blueprint.add_url_rule("/groups/<id>", "groups", groups, methods=["GET", "POST"])
