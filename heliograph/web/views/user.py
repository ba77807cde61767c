"""User pages: the list and a user's page (accounts and login come with issue 5)."""

from __future__ import annotations

import flask
from flask import Blueprint

from heliograph.web.views import call_action

blueprint = Blueprint("user", __name__, url_prefix="/user")


@blueprint.route("/", strict_slashes=False)
def index() -> str:
    users = call_action("user_list", {"all_fields": True})
    return flask.render_template("user/index.html", users=users)


@blueprint.route("/<id>")
def read(id: str) -> str:
    user = call_action("user_show", {"id": id, "include_datasets": True})
    return flask.render_template("user/read.html", user_dict=user)
