"""The toolkit: what an extension may use of the core (the specification's ``tk``).

An extension under ``heliograph/ext/`` (or any third-party plugin) imports
``heliograph.plugins`` and this module, and nothing else of the core; when it
needs more, this module grows. Code written for CKAN ports by changing
``ckan.plugins.toolkit`` to ``heliograph.plugins.toolkit``.

Sections, each added by the issue that needs it:

- signals (here): ``tk.signals`` *is* :mod:`heliograph.lib.signals`, so
  ``tk.signals.ckanext.signal('x')``, ``tk.signals.request_started`` and every
  core signal work through it.
- configuration (here): ``tk.config``, the portal's configuration. The portal
  fills this object at start-up (``tk.config.update(...)``); keep the object,
  do not rebind it, since extensions hold references to it.
- actions, auth and errors: ``get_action``, ``check_access``,
  ``side_effect_free``, ``auth_allow_anonymous_access``,
  ``auth_sysadmins_check``, ``ObjectNotFound``, ``NotAuthorized``,
  ``ValidationError``. They live in the logic layer, which sits above the
  plugin system, so they are looked up on first use (module ``__getattr__``)
  and importing the toolkit never imports the portal.
- the portal itself, for commands of ``IClick`` plugins (added by the
  datastore's ``load``/``dump``): ``load_config(file=None)`` parses the
  configuration (file, environment, defaults) and raises ``ConfigError``
  naming a bad key; ``make_app(config)`` builds the portal from it, which binds
  its database, fills ``config`` above and loads the configured plugins.
  Looked up on first use too.
- pages (added by the activity stream's views): ``action_context()`` gives a
  fresh action context for the caller of the current web request (its user
  name, user object and the request's database session), to run actions as
  that user from a plugin's Flask views.
- permission labels (added by the activity stream, which keeps a dataset's
  labels with each activity, as CKAN does): ``dataset_permission_labels(
  package_dict)`` gives the labels of a dataset as ``package_show`` returns
  it; ``user_permission_labels(context)`` the set of labels the caller may
  see, or None for a sysadmin (or ``ignore_auth``), who sees everything. A
  caller may see a dataset when the two meet.
- bounded search input (added by the datastore's search):
  ``check_search_text(field, value)`` raises a ``ValidationError`` naming
  ``field`` when a text (or a list of texts) is past the portal's search
  bounds (``heliograph.search.max_text_length``, ``max_terms``,
  ``max_list_items``), at a cost that does not grow with the input.
- mail and the database (added by the webhooks, which mail a hook's owner
  and keep their tables from a worker): ``send_mail(to, subject, body)``
  sends a plain-text message as the portal's ``smtp.*`` configuration says
  (raising ``MailError`` when it could not be handed over);
  ``database()`` is the portal's SQLAlchemy engine, for a plugin's own
  tables outside an action (inside one, use ``context['session']``);
  ``resource_package_id(resource_id)`` the id of the dataset a resource
  belongs to, deleted or not (``resource_show`` answers for active ones
  only), or None.
"""

from __future__ import annotations

import typing as t

from heliograph.lib import signals

if t.TYPE_CHECKING:
    from heliograph.config import ConfigError
    from heliograph.config import load as load_config
    from heliograph.events import current_event
    from heliograph.events.jobs import JobError
    from heliograph.events.jobs import enqueue as enqueue_job
    from heliograph.events.worker import RetryLater
    from heliograph.logic import (
        ActionError,
        NotAuthorized,
        ObjectNotFound,
        ValidationError,
        auth_allow_anonymous_access,
        auth_sysadmins_check,
        check_access,
        get_action,
        side_effect_free,
    )
    from heliograph.logic.auth import dataset_dict_labels as dataset_permission_labels
    from heliograph.logic.auth import user_labels as user_permission_labels
    from heliograph.logic.validation import check_search_text

    def make_app(config: t.Any = None) -> t.Any: ...

    from heliograph.lib.mailer import MailerError as MailError

    def action_context() -> dict[str, t.Any]: ...


__all__ = [
    "ActionError",
    "action_context",
    "ConfigError",
    "NotAuthorized",
    "ObjectNotFound",
    "ValidationError",
    "auth_allow_anonymous_access",
    "auth_sysadmins_check",
    "check_access",
    "check_search_text",
    "config",
    "current_event",
    "dataset_permission_labels",
    "enqueue_job",
    "JobError",
    "MailError",
    "RetryLater",
    "database",
    "resource_package_id",
    "get_action",
    "load_config",
    "make_app",
    "send_mail",
    "side_effect_free",
    "signals",
    "user_permission_labels",
]

# -- configuration ---------------------------------------------------------------

config: dict[str, t.Any] = {}
"""The portal's configuration; ``heliograph.plugins`` holds the plugins
:func:`heliograph.plugins.load_all` loads (names separated by spaces)."""

# -- mail and the database ---------------------------------------------------------


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message to ``to`` through the portal's mailer
    (``smtp.*``; a folder of ``.eml`` files when ``smtp.server`` is empty).
    Raises ``MailError`` when it could not be handed over."""
    from heliograph.lib import mailer

    mailer.send_mail(config, to, subject, body)


def database() -> t.Any:
    """The portal's SQLAlchemy engine (what ``model.Session`` is bound to)."""
    from heliograph import model

    bind = model.Session.session_factory.kw.get("bind")  # without opening a session
    return bind if bind is not None else model.Session.get_bind()


def resource_package_id(resource_id: str) -> str | None:
    """The id of the dataset resource ``resource_id`` belongs to (active or
    deleted), or None when there is no such resource."""
    from heliograph import model
    from heliograph.logic import auth

    resource = auth.resource_by_id({"session": model.Session}, resource_id)
    return None if resource is None else str(resource.package_id)


# -- actions, auth and errors ----------------------------------------------------

_FROM_LOGIC = frozenset(
    {
        "ActionError",
        "NotAuthorized",
        "ObjectNotFound",
        "ValidationError",
        "auth_allow_anonymous_access",
        "auth_sysadmins_check",
        "check_access",
        "get_action",
        "side_effect_free",
    }
)

_FROM_VALIDATION = frozenset({"check_search_text"})

_FROM_AUTH = {
    "dataset_permission_labels": "dataset_dict_labels",
    "user_permission_labels": "user_labels",
}


_FROM_EVENTS = frozenset({"current_event", "enqueue_job", "JobError", "RetryLater"})


def __getattr__(name: str) -> t.Any:
    if name in _FROM_LOGIC:
        import heliograph.logic as logic

        value = getattr(logic, name)
        globals()[name] = value
        return value
    if name in _FROM_VALIDATION:
        import heliograph.logic.validation as validation

        value = getattr(validation, name)
        globals()[name] = value
        return value
    if name in _FROM_AUTH:
        import heliograph.logic.auth as auth

        value = getattr(auth, _FROM_AUTH[name])
        globals()[name] = value
        return value
    if name in ("load_config", "ConfigError"):
        import heliograph.config as config_module

        value = config_module.load if name == "load_config" else config_module.ConfigError
        globals()[name] = value
        return value
    if name == "action_context":
        from heliograph.web.views import page_context

        globals()[name] = page_context
        return page_context
    if name in _FROM_EVENTS:
        import heliograph.events.jobs as jobs
        from heliograph import events

        value = {
            "current_event": events.current_event,
            "enqueue_job": jobs.enqueue,
            "JobError": jobs.JobError,
            "RetryLater": events.RetryLater,
        }[name]
        globals()[name] = value
        return value
    if name == "MailError":
        from heliograph.lib.mailer import MailerError

        globals()[name] = MailerError
        return MailerError
    if name == "make_app":
        from heliograph.web import make_app

        globals()[name] = make_app
        return make_app
    raise AttributeError(f"module 'heliograph.plugins.toolkit' has no attribute {name!r}")
