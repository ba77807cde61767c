"""Resource pages: a resource of a dataset, at ``/<type>/<id>/resource/<resource_id>``."""

from __future__ import annotations

import flask
from flask import Blueprint
from werkzeug.exceptions import NotFound

from heliograph.web.views import call_action, download, forms


def make_blueprint(package_type: str = "dataset") -> Blueprint:
    """The resource blueprint of dataset type ``package_type``."""
    name = "resource" if package_type == "dataset" else f"{package_type}_resource"
    blueprint = Blueprint(name, __name__, url_prefix=f"/{package_type}/<id>/resource")

    def read(id: str, resource_id: str) -> str:
        package = call_action("package_show", {"id": id})
        if package.get("type", "dataset") != package_type:
            raise NotFound(f"Dataset {id} is not of type {package_type}.")
        for resource in package.get("resources") or []:
            if resource.get("id") == resource_id:
                return flask.render_template(
                    "resource/read.html", package_type=package_type, pkg=package, res=resource
                )
        raise NotFound(f"Dataset {id} has no resource {resource_id}.")

    blueprint.add_url_rule("/<resource_id>", "read", read)
    download.add_routes(blueprint, package_type)
    forms.add_resource_routes(blueprint, package_type)
    return blueprint


blueprint = make_blueprint()
