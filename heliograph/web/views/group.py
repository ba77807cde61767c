"""Group pages (and, through :func:`make_blueprint`, organization pages)."""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from werkzeug.exceptions import NotFound

from heliograph.web.views import call_action, group_forms, search


def make_blueprint(group_type: str = "group", *, is_organization: bool = False) -> Blueprint:
    """The blueprint of ``group_type`` at ``/<group_type>``: its list and read
    pages (the read page searches its datasets, with facets) and its forms."""
    blueprint = Blueprint(group_type, __name__, url_prefix=f"/{group_type}")
    prefix = "organization" if is_organization else "group"

    def index() -> str:
        groups = call_action(f"{prefix}_list", {"all_fields": True})
        groups = [g for g in groups if isinstance(g, dict) and g.get("type", prefix) == group_type]
        return flask.render_template(
            "group/index.html",
            group_type=group_type,
            is_organization=is_organization,
            groups=groups,
        )

    def read(id: str) -> str:
        group: dict[str, t.Any] = call_action(f"{prefix}_show", {"id": id})
        if group.get("type", prefix) != group_type:
            raise NotFound(f"{id} is not a {group_type}.")
        facet = "organization" if is_organization else "groups"
        found = search.search([f"{facet}:{search.quoted(group['name'])}"], hidden={facet})
        return flask.render_template(
            "group/read.html",
            group_type=group_type,
            is_organization=is_organization,
            group=group,
            s=found,
        )

    blueprint.add_url_rule("/", "index", index, strict_slashes=False)
    blueprint.add_url_rule("/<id>", "read", read)
    group_forms.add_group_routes(blueprint, group_type, is_organization=is_organization)
    return blueprint


blueprint = make_blueprint("group")
