"""The front page."""

from __future__ import annotations

import flask
from flask import Blueprint

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index() -> str:
    return flask.render_template("home/index.html")
