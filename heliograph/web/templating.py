"""Templating: the portal's templates, overridable by loaded plugins, and the
names every template sees.

:func:`init_app` installs both on an application.
"""

from __future__ import annotations

import collections.abc as c
import typing as t

import flask_login
import jinja2
from flask import Flask

from heliograph import plugins
from heliograph.config import config
from heliograph.web import identity
from heliograph.web.views import forms

__all__ = ["PluginTemplates", "init_app", "template_globals"]


def init_app(app: Flask) -> None:
    """Search the loaded plugins' templates before the portal's, and give every
    template the names of :func:`template_globals`."""
    app.jinja_loader = PluginTemplates(app.jinja_loader)
    app.context_processor(template_globals)


class PluginTemplates(jinja2.BaseLoader):
    """The portal's templates, overridable by loaded plugins.

    A loaded plugin with a ``templates`` folder beside its module is searched
    first, so its ``dataset/read.html`` replaces the portal's; it reaches the
    portal's own page as ``core/dataset/read.html`` (CKAN's ``ckan_extends``),
    to extend it and fill its blocks. The set of plugins is read at each
    lookup, so plugins loaded after the app was built are seen too.
    """

    def __init__(self, core: jinja2.BaseLoader | None) -> None:
        self.core = core

    def _loaders(self) -> list[jinja2.BaseLoader]:
        found: list[jinja2.BaseLoader] = []
        for name in plugins.loaded_plugins():
            folder = plugins.plugin_folder(name, "templates")
            if folder is not None:
                found.append(jinja2.FileSystemLoader(folder))
        return found

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, c.Callable[[], bool] | None]:
        if self.core is None:
            raise jinja2.TemplateNotFound(template)
        if template.startswith("core/"):
            return self.core.get_source(environment, template.removeprefix("core/"))
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
        return self.core.get_source(environment, template)

    def list_templates(self) -> list[str]:
        names = set(self.core.list_templates() if self.core is not None else [])
        for loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


def template_globals() -> dict[str, t.Any]:
    """The caller (as Flask-Login's ``current_user`` too), the permission test,
    the URL helpers, the links plugins add to a profile and the site's title
    and description."""
    return {
        "current_user": flask_login.current_user,  # a proxy: the user is loaded when read
        "current_user_obj": identity.identify()[1],
        "may": forms.may,
        "dataset_url": forms.dataset_url,
        "download_url": forms.download_url,
        "user_page_links": user_page_links,
        "site_title": config.get("heliograph.site_title", "Heliograph"),
        "site_description": config.get("heliograph.site_description", ""),
    }


def user_page_links(user_dict: c.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """The ``(label, url)`` links loaded ``IUserPageLinks`` plugins add to a profile."""
    from heliograph.plugins import PluginImplementations, interfaces

    links: list[tuple[str, str]] = []
    for plugin in PluginImplementations(interfaces.IUserPageLinks):
        links.extend((str(label), str(url)) for label, url in plugin.user_page_links(user_dict))
    return links
