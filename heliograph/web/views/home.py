"""The front page: a search box and the most recently changed datasets."""

from __future__ import annotations

import flask
from flask import Blueprint

from heliograph.web.views import call_action

blueprint = Blueprint("home", __name__)

RECENT = 5


@blueprint.route("/")
def index() -> str:
    found = call_action(
        "package_search",
        {"rows": RECENT, "sort": "metadata_modified desc", "include_private": True},
    )
    return flask.render_template(
        "home/index.html", recent=found.get("results", []), count=found.get("count", 0)
    )
