"""The logged-in user's dashboard at ``/dashboard/datasets``: their
organizations (with their role), their datasets and the next steps.

It is where a login lands and what the menu's "Dashboard" link opens; an
anonymous visitor is sent to log in and brought back. When the activity
plugin is loaded its news feed (``/dashboard``) is linked from here.
"""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint

from heliograph.web import identity
from heliograph.web.views import call_action, forms

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blueprint.route("/datasets")
def datasets() -> t.Any:
    _name, user = identity.identify()
    if user is None:
        flask.flash("Please log in first.")
        return flask.redirect(flask.url_for("user.login", next=flask.request.path))
    user_dict = call_action("user_show", {"id": user.id, "include_datasets": True})
    organizations = call_action("organization_list_for_user", {"include_dataset_count": True})
    if user.sysadmin:  # every organization is "theirs"; show the ones they belong to
        mine = {row[0] for row in _memberships(user.id)}
        organizations = [org for org in organizations if org["id"] in mine]
    return flask.render_template(
        "user/dashboard.html",
        user_dict=user_dict,
        organizations=organizations,
        may_create_dataset=forms.may("package_create", {}),
        may_create_org=forms.may("organization_create", {}),
        news_feed="activity.dashboard" in flask.current_app.view_functions,
    )


def _memberships(user_id: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from heliograph import model

    rows = model.Session.execute(
        select(model.Member.group_id, model.Member.capacity).where(
            model.Member.table_name == "user",
            model.Member.table_id == user_id,
            model.Member.state == "active",
        )
    ).all()
    return [(str(group_id), str(capacity)) for group_id, capacity in rows]


def dashboard_url() -> str:
    """Where the menu's Dashboard link goes."""
    return flask.url_for("dashboard.datasets")
