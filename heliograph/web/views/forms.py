"""Dataset and resource forms: create and edit pages over the logic layer.

What a caller can rely on:

- every form is a Flask-WTF form, so a POST without a valid CSRF token is
  refused (400) before any action runs;
- a submitted form goes through :func:`heliograph.logic.get_action` with the
  logged-in user's context (``package_create``/``package_patch``,
  ``resource_create``/``resource_update``); a ``ValidationError`` re-renders
  the form (400) with each message beside its field, and messages for keys
  the form has no field for above the form;
- a caller the auth functions refuse gets the 403 page, on GET as on POST.
"""

from __future__ import annotations

import re
import typing as t
import unicodedata

import flask
from flask import Blueprint
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden, NotFound
from wtforms import (  # type: ignore[import-untyped]
    BooleanField,
    FileField,
    SelectField,
    StringField,
    TextAreaField,
)

from heliograph import logic
from heliograph.logic import auth as authz
from heliograph.web.views import call_action, page_context


class DatasetForm(FlaskForm):  # type: ignore[misc]
    title = StringField("Title")
    name = StringField(
        "URL name",
        description="Lower-case letters, digits, - and _. Left empty, it is made from the title.",
    )
    notes = TextAreaField("Description")
    tag_string = StringField("Tags", description="Separated by commas.")
    owner_org = SelectField("Organization", validate_choice=False)
    private = BooleanField("Private (only members of the organization can see it)")
    url = StringField("Source URL")
    version = StringField("Version")
    author = StringField("Author")
    author_email = StringField("Author e-mail")
    maintainer = StringField("Maintainer")
    maintainer_email = StringField("Maintainer e-mail")
    license_id = SelectField("Licence", validate_choice=False)


class ResourceForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name")
    url = StringField("URL")
    upload = FileField("Or upload a file")
    description = TextAreaField("Description")
    format = StringField("Format", description="CSV, JSON, ...")


DATASET_TEXT = (
    "title",
    "name",
    "notes",
    "url",
    "version",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license_id",
)
RESOURCE_TEXT = ("name", "url", "description", "format")


def may(action: str, data_dict: dict[str, t.Any] | None = None) -> bool:
    """Whether the caller of the current request may run ``action`` (for links)."""
    try:
        return logic.has_access(action, page_context(), data_dict or {})
    except (logic.NotAuthorized, logic.ObjectNotFound):  # an auth function may raise
        return False


def dataset_url(pkg: dict[str, t.Any]) -> str:
    """The page of dataset ``pkg``, under its type's blueprint when there is one."""
    package_type = pkg.get("type") or "dataset"
    if f"{package_type}.read" not in flask.current_app.view_functions:
        package_type = "dataset"
    return flask.url_for(f"{package_type}.read", id=pkg.get("name") or pkg.get("id"))


def download_url(package_type: str, pkg: dict[str, t.Any], res: dict[str, t.Any]) -> str:
    """``/<type>/<id>/resource/<resource_id>/download``: where a resource's data is served."""
    return _resource_url(
        package_type, "download", id=pkg.get("name") or pkg["id"], resource_id=res["id"]
    )


def require(action: str, data_dict: dict[str, t.Any]) -> None:
    """Refuse the request (403 page, or 404) unless the caller may run ``action``."""
    try:
        logic.check_access(action, page_context(), data_dict)
    except logic.NotAuthorized as exc:
        raise Forbidden(exc.message or None) from None
    except logic.ObjectNotFound as exc:
        raise NotFound(exc.message or None) from None


_require = require


def _run(action: str, data_dict: dict[str, t.Any]) -> tuple[t.Any, dict[str, list[str]]]:
    """``(result, {})``, or ``(None, errors by field)`` on a ValidationError."""
    try:
        return logic.get_action(action)(page_context(), data_dict), {}
    except logic.ValidationError as exc:
        return None, {key: _messages(value) for key, value in exc.error_dict.items()}
    except logic.NotAuthorized as exc:
        raise Forbidden(exc.message or None) from None
    except logic.ObjectNotFound as exc:
        raise NotFound(exc.message or None) from None


def _messages(value: t.Any) -> list[str]:
    if isinstance(value, list):
        return [m if isinstance(m, str) else str(m) for m in value]
    if isinstance(value, dict):
        return [f"{key}: {'; '.join(_messages(v))}" for key, v in value.items()]
    return [str(value)]


def _render(
    template: str, form: FlaskForm, errors: dict[str, list[str]], status: int = 200, **extra: t.Any
) -> tuple[str, int]:
    field_names = {field.name for field in form}
    general = [f"{key}: {m}" for key, ms in errors.items() if key not in field_names for m in ms]
    body = flask.render_template(
        template, form=form, errors=errors, general_errors=general, **extra
    )
    return body, status


def _collect_errors(form: FlaskForm, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = {
        name: list(messages) for name, messages in form.errors.items() if name != "csrf_token"
    }
    for key, messages in errors.items():
        merged.setdefault("tag_string" if key == "tags" else key, []).extend(messages)
    return merged


# -- datasets ---------------------------------------------------------------------

NAME_MAX = 100


def slug_from_title(title: str) -> str:
    """A dataset name made from ``title`` as CKAN's ``munge_title_to_name``
    does: accents dropped, lower case, runs of anything but letters, digits,
    ``-`` and ``_`` made one ``-``, at most 100 characters."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_title.lower()).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:NAME_MAX].rstrip("-_")


def _license_choices(current: str | None) -> list[tuple[str, str]]:
    """CKAN's licence list (``license_list``), and the current licence if it
    is not in it."""
    licenses = call_action("license_list", {})
    choices = [("", "(choose a licence)")]
    choices += [(item["id"], item["title"]) for item in licenses]
    if current and current not in {item["id"] for item in licenses}:
        choices.append((current, current))
    return choices


def _dataset_data(form: DatasetForm) -> dict[str, t.Any]:
    data = {key: form[key].data or "" for key in DATASET_TEXT}
    if not data["name"].strip() and data["title"].strip():
        data["name"] = slug_from_title(data["title"])
    return data


def _organization_choices(current: str | None) -> list[tuple[str, str]]:
    """The organizations the caller may add datasets to (and the current owner)."""
    context = page_context()
    orgs = call_action("organization_list", {"all_fields": True})
    choices = [("", "(none)")]
    for org in orgs:
        if not isinstance(org, dict):
            continue
        if org["id"] == current or authz.has_permission(context, org["id"], "create_dataset"):
            choices.append((org["id"], org.get("title") or org["name"]))
    return choices


def add_dataset_routes(blueprint: Blueprint, package_type: str) -> None:
    """``/new`` and ``/edit/<id>`` on the dataset blueprint of ``package_type``."""

    def new() -> t.Any:
        from heliograph.web.views.group_forms import no_organization_page

        refused = no_organization_page(package_type)
        if refused is not None:
            return refused
        form = DatasetForm()
        form.owner_org.choices = _organization_choices(None)
        if flask.request.method == "GET" and flask.request.args.get("owner_org"):
            form.owner_org.data = flask.request.args["owner_org"]
        form.license_id.choices = _license_choices(form.license_id.data)
        errors: dict[str, list[str]] = {}
        if form.validate_on_submit():
            data = _dataset_data(form)
            data.update(
                type=package_type,
                owner_org=form.owner_org.data or None,
                private=bool(form.private.data),
                tag_string=form.tag_string.data or "",
            )
            if not data["title"]:
                data.pop("title")
            created, errors = _run("package_create", data)
            if created is not None:
                flask.flash("The dataset has been created. Add its data below.")
                return flask.redirect(_resource_url(package_type, "new", id=created["name"]))
        errors = _collect_errors(form, errors)
        status = 400 if errors else 200
        return _render(
            "dataset/edit.html", form, errors, status, package_type=package_type, pkg=None
        )

    def edit(id: str) -> t.Any:
        pkg = call_action("package_show", {"id": id})
        if pkg.get("type", "dataset") != package_type:
            raise NotFound(f"Dataset {id} is not of type {package_type}.")
        _require("package_update", {"id": pkg["id"]})
        if flask.request.method == "GET":
            values = {key: pkg.get(key) or "" for key in DATASET_TEXT}
            values["tag_string"] = ", ".join(tag["name"] for tag in pkg.get("tags") or [])
            values["owner_org"] = pkg.get("owner_org") or ""
            values["private"] = bool(pkg.get("private"))
            form = DatasetForm(data=values)
        else:
            form = DatasetForm()
        form.owner_org.choices = _organization_choices(pkg.get("owner_org"))
        form.license_id.choices = _license_choices(pkg.get("license_id"))
        errors: dict[str, list[str]] = {}
        if form.validate_on_submit():
            data = _dataset_data(form)
            data.update(
                id=pkg["id"],
                owner_org=form.owner_org.data or None,
                private=bool(form.private.data),
                tags=[],  # replaced by tag_string
                tag_string=form.tag_string.data or "",
            )
            updated, errors = _run("package_patch", data)
            if updated is not None:
                flask.flash("The dataset has been saved.")
                return flask.redirect(flask.url_for(f"{package_type}.read", id=updated["name"]))
        errors = _collect_errors(form, errors)
        status = 400 if errors else 200
        return _render(
            "dataset/edit.html", form, errors, status, package_type=package_type, pkg=pkg
        )

    blueprint.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    blueprint.add_url_rule("/edit/<id>", "edit", edit, methods=["GET", "POST"])


# -- resources --------------------------------------------------------------------


def _resource_endpoint(package_type: str, view: str) -> str:
    name = "resource" if package_type == "dataset" else f"{package_type}_resource"
    return f"{name}.{view}"


def _resource_url(package_type: str, view: str, **values: t.Any) -> str:
    return flask.url_for(_resource_endpoint(package_type, view), **values)


def _package_of_type(id: str, package_type: str) -> dict[str, t.Any]:
    pkg: dict[str, t.Any] = call_action("package_show", {"id": id})
    if pkg.get("type", "dataset") != package_type:
        raise NotFound(f"Dataset {id} is not of type {package_type}.")
    return pkg


def _resource_data(form: ResourceForm) -> dict[str, t.Any]:
    data: dict[str, t.Any] = {key: form[key].data or "" for key in RESOURCE_TEXT}
    upload = flask.request.files.get("upload")
    if upload is not None and upload.filename:
        data["upload"] = upload
    return data


def add_resource_routes(blueprint: Blueprint, package_type: str) -> None:
    """``/new`` and ``/<resource_id>/edit`` on the resource blueprint of ``package_type``."""

    def new(id: str) -> t.Any:
        pkg = _package_of_type(id, package_type)
        _require("resource_create", {"package_id": pkg["id"]})
        form = ResourceForm()
        errors: dict[str, list[str]] = {}
        if form.validate_on_submit():
            created, errors = _run(
                "resource_create", {"package_id": pkg["id"], **_resource_data(form)}
            )
            if created is not None:
                flask.flash("The resource has been added.")
                return flask.redirect(flask.url_for(f"{package_type}.read", id=pkg["name"]))
        errors = _collect_errors(form, errors)
        status = 400 if errors else 200
        return _render(
            "resource/edit.html", form, errors, status, package_type=package_type, pkg=pkg, res=None
        )

    def edit(id: str, resource_id: str) -> t.Any:
        pkg = _package_of_type(id, package_type)
        res = next((r for r in pkg.get("resources") or [] if r.get("id") == resource_id), None)
        if res is None:
            raise NotFound(f"Dataset {id} has no resource {resource_id}.")
        _require("resource_update", {"id": resource_id})
        if flask.request.method == "GET":
            form = ResourceForm(data={key: res.get(key) or "" for key in RESOURCE_TEXT})
        else:
            form = ResourceForm()
        errors: dict[str, list[str]] = {}
        if form.validate_on_submit():
            data = {**res, **_resource_data(form), "id": resource_id}
            updated, errors = _run("resource_update", data)
            if updated is not None:
                flask.flash("The resource has been saved.")
                return flask.redirect(
                    _resource_url(package_type, "read", id=pkg["name"], resource_id=resource_id)
                )
        errors = _collect_errors(form, errors)
        status = 400 if errors else 200
        return _render(
            "resource/edit.html", form, errors, status, package_type=package_type, pkg=pkg, res=res
        )

    blueprint.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    blueprint.add_url_rule("/<resource_id>/edit", "edit", edit, methods=["GET", "POST"])
