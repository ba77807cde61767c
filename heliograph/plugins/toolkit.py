"""The toolkit: what an extension may use of the core (the specification's ``tk``).

An extension under ``heliograph/ext/`` (or any third-party plugin) imports
``heliograph.plugins`` and this module, and nothing else of the core; when it
needs more, this module grows. Code written for CKAN ports by changing
``ckan.plugins.toolkit`` to ``heliograph.plugins.toolkit``.

This is the one module of a lower layer that imports the layers above it (the
logic layer, the delivery layer and the web layer), at its top, as CKAN's
toolkit does; ``heliograph.plugins`` does not import it at its own top but
offers it as ``heliograph.plugins.toolkit`` on first use, so the plugin system
loads without the portal.

Sections:

- signals (here): ``tk.signals`` *is* :mod:`heliograph.lib.signals`, so
  ``tk.signals.ckanext.signal('x')``, ``tk.signals.request_started`` and every
  core signal work through it.
- configuration: ``tk.config`` *is* :data:`heliograph.config.config`, the
  portal's one configuration object, filled at start-up; keep the object, do
  not rebind it, since extensions hold references to it.
- actions, auth and errors: ``get_action``, ``check_access``,
  ``side_effect_free``, ``auth_allow_anonymous_access``,
  ``auth_sysadmins_check``, ``ObjectNotFound``, ``NotAuthorized``,
  ``ValidationError``, from the logic layer.
- the portal itself, for commands of ``IClick`` plugins (the datastore's
  ``load``/``dump``): ``load_config(file=None)`` parses the
  configuration (file, environment, defaults) and raises ``ConfigError``
  naming a bad key; ``make_app(config)`` builds the portal from it, which binds
  its database, fills ``config`` above and loads the configured plugins.
- pages (a plugin's Flask views): ``action_context()`` gives a
  fresh action context for the caller of the current web request (its user
  name, user object and the request's database session), to run actions as
  that user from a plugin's Flask views; ``call_action(name, data_dict)``
  runs an action so, its refusals becoming 403, 404 and 400 pages.
- permission labels (the activity stream keeps a dataset's labels with each
  activity, as CKAN does): ``dataset_permission_labels(
  package_dict)`` gives the labels of a dataset as ``package_show`` returns
  it; ``user_permission_labels(context)`` the set of labels the caller may
  see, or None for a sysadmin (or ``ignore_auth``), who sees everything. A
  caller may see a dataset when the two meet.
- bounded search input (the datastore's search uses it):
  ``check_search_text(field, value)`` raises a ``ValidationError`` naming
  ``field`` when a text (or a list of texts) is past the portal's search
  bounds (``heliograph.search.max_text_length``, ``max_terms``,
  ``max_list_items``), at a cost that does not grow with the input.
- mail and the database (the webhooks mail a hook's owner and keep their
  tables from a worker): ``send_mail(to, subject, body)`` sends a plain-text
  message as the portal's ``smtp.*`` configuration says (raising
  ``MailError`` when it could not be handed over); ``database()`` is the
  portal's SQLAlchemy engine, for a plugin's own tables outside an action
  (inside one, use ``context['session']``); ``resource_package_id(
  resource_id)`` the id of the dataset a resource belongs to, deleted or not
  (``resource_show`` answers for active ones only), or None.
"""

from __future__ import annotations

import typing as t

from heliograph import model
from heliograph.config import ConfigError, config
from heliograph.config import load as load_config
from heliograph.events import RetryLater, current_event
from heliograph.events.jobs import JobError
from heliograph.events.jobs import enqueue as enqueue_job
from heliograph.lib import mailer, signals
from heliograph.lib.mailer import MailerError as MailError
from heliograph.logic import (
    ActionError,
    NotAuthorized,
    ObjectNotFound,
    ValidationError,
    auth,
    auth_allow_anonymous_access,
    auth_sysadmins_check,
    check_access,
    get_action,
    side_effect_free,
)
from heliograph.logic.auth import dataset_dict_labels as dataset_permission_labels
from heliograph.logic.auth import user_labels as user_permission_labels
from heliograph.logic.validation import check_search_text
from heliograph.web import make_app
from heliograph.web.views import call_action
from heliograph.web.views import page_context as action_context

__all__ = [
    "ActionError",
    "ConfigError",
    "JobError",
    "MailError",
    "NotAuthorized",
    "ObjectNotFound",
    "RetryLater",
    "ValidationError",
    "action_context",
    "auth_allow_anonymous_access",
    "call_action",
    "auth_sysadmins_check",
    "check_access",
    "check_search_text",
    "config",
    "current_event",
    "database",
    "dataset_permission_labels",
    "enqueue_job",
    "get_action",
    "load_config",
    "make_app",
    "resource_package_id",
    "send_mail",
    "side_effect_free",
    "signals",
    "user_permission_labels",
]


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message to ``to`` through the portal's mailer
    (``smtp.*``; a folder of ``.eml`` files when ``smtp.server`` is empty).
    Raises ``MailError`` when it could not be handed over."""
    mailer.send_mail(config, to, subject, body)


def database() -> t.Any:
    """The portal's SQLAlchemy engine (what ``model.Session`` is bound to)."""
    bind = model.Session.session_factory.kw.get("bind")  # without opening a session
    return bind if bind is not None else model.Session.get_bind()


def resource_package_id(resource_id: str) -> str | None:
    """The id of the dataset resource ``resource_id`` belongs to (active or
    deleted), or None when there is no such resource."""
    resource = auth.resource_by_id({"session": model.Session}, resource_id)
    return None if resource is None else str(resource.package_id)
