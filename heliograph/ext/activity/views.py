"""The activity pages."""

from __future__ import annotations

from flask import Blueprint

activity = Blueprint("activity", __name__)
