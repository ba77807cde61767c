"""Dataset pages: the search list and the read page.

:func:`make_blueprint` builds the blueprint of one dataset type; the core
type ``dataset`` lives at ``/dataset``, a custom type declared by a plugin at
``/<type>``. A plugin may name its own templates with ``search_template()``
and ``read_template()`` (as CKAN's ``IDatasetForm``).
"""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from werkzeug.exceptions import NotFound

from heliograph.web.views import call_action, dataset_manage, forms, markup
from heliograph.web.views import search as search_module


def make_blueprint(package_type: str = "dataset", plugin: t.Any = None) -> Blueprint:
    """The dataset blueprint of ``package_type``, named after it."""
    blueprint = Blueprint(package_type, __name__, url_prefix=f"/{package_type}")
    search_template = _template(plugin, "search_template", "dataset/search.html")
    read_template = _template(plugin, "read_template", "dataset/read.html")

    def search() -> str:
        fq = [f"+dataset_type:{package_type}"] if package_type != "dataset" else []
        found = search_module.search(fq)
        return flask.render_template(
            search_template,
            package_type=package_type,
            s=found,
            q=found["q"],
            page=found["page"],
            rows=found["rows"],
            count=found["count"],
            results=found["results"],
        )

    def read(id: str) -> str:
        package = call_action("package_show", {"id": id})
        if package.get("type", "dataset") != package_type:
            raise NotFound(f"Dataset {id} is not of type {package_type}.")
        choices = [
            (group["id"], dataset_manage.group_title(group))
            for group in dataset_manage.addable_groups(package)
        ]
        group_form = None  # no form (and no CSRF token in the session) with nothing to offer
        if choices:
            group_form = dataset_manage.AddToGroupForm()
            group_form.group_added.choices = choices
        return flask.render_template(
            read_template, package_type=package_type, pkg=package, group_form=group_form
        )

    blueprint.add_url_rule("/", "search", search, strict_slashes=False)
    blueprint.add_url_rule("/<id>", "read", read)
    forms.add_dataset_routes(blueprint, package_type)
    dataset_manage.add_routes(blueprint, package_type)
    blueprint.add_app_template_filter(markup.render_markdown, "markdown")
    return blueprint


def _template(plugin: t.Any, method: str, default: str) -> str:
    getter = getattr(plugin, method, None)
    chosen = getter() if callable(getter) else None
    return chosen or default


blueprint = make_blueprint()
