"""Resource downloads: ``/<type>/<id>/resource/<resource_id>/download[/<filename>]``.

An uploaded file is streamed with its content type, and
``resource_download(resource_id)`` sent just before it goes out; a resource
with only a URL redirects to it (no signal). Who cannot see the dataset gets
the 403 page, a missing dataset, resource or file the 404 page - and no signal.
"""

from __future__ import annotations

import typing as t
import urllib.parse

import flask
from flask import Blueprint
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from heliograph.lib import signals
from heliograph.logic import uploads
from heliograph.web.views import call_action

REDIRECT_SCHEMES = ("http", "https", "ftp")


def add_routes(blueprint: Blueprint, package_type: str) -> None:
    """Add ``download`` and ``download_filename`` to a resource blueprint."""

    def download(id: str, resource_id: str, filename: str | None = None) -> Response:
        package = call_action("package_show", {"id": id})
        if package.get("type", "dataset") != package_type:
            raise NotFound(f"Dataset {id} is not of type {package_type}.")
        resource = next(
            (r for r in package.get("resources") or [] if r.get("id") == resource_id), None
        )
        if resource is None:
            raise NotFound(f"Dataset {id} has no resource {resource_id}.")
        if resource.get("url_type") == "upload":
            return send_upload(resource_id, resource)
        url = str(resource.get("url") or "")
        if urllib.parse.urlsplit(url).scheme.lower() in REDIRECT_SCHEMES:
            return flask.redirect(url)
        raise NotFound(f"Resource {resource_id} has no file and no URL to download.")

    blueprint.add_url_rule("/<resource_id>/download", "download", download)
    blueprint.add_url_rule("/<resource_id>/download/<filename>", "download_filename", download)


def send_upload(resource_id: str, resource: dict[str, t.Any]) -> Response:
    """The response carrying the file of ``resource``; sends ``resource_download``."""
    try:
        path = uploads.resource_path(resource_id)
    except ValueError:
        raise NotFound(f"Resource {resource_id} has no file.") from None
    if not path.is_file():
        raise NotFound(f"The file of resource {resource_id} is missing.")
    name = urllib.parse.unquote(str(resource.get("url") or "").rsplit("/", 1)[-1])
    response = flask.send_file(
        path,
        mimetype=resource.get("mimetype") or "application/octet-stream",
        download_name=name or resource_id,
        conditional=True,
    )
    # an uploaded HTML or SVG file must not run script on the portal's origin
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    signals.resource_download.send(resource_id)
    return response
