"""The ``ckan`` and ``ckanext`` namespaces and the catalog of core signals.

This is the module the specification calls ``ckan.lib.signals``::

    from heliograph.lib.signals import ckan as ckan_namespace, request_started
    assert request_started is ckan_namespace.signal('request_started')

Core signals live in ``ckan``; signals of extensions (the bundled datastore,
third-party plugins) in ``ckanext``. Every core signal uses the 'isolate'
policy: a failing subscriber is logged and counted, and never breaks the
others or the request. Each carries its :class:`Contract` as ``.contract``.
CKAN registers three signals under other names (``logged_in``,
``logged_out``, ``action_succeed``); those names are aliases of the same
objects here, so code ported from CKAN keeps working.
"""

from __future__ import annotations

import collections.abc as c
from dataclasses import dataclass

from heliograph.lib.wire import action_wire, plain_wire, user_wire
from heliograph.signals import ISOLATE, NamedSignal, Namespace
from heliograph.signals.contract import Contract

__all__ = [
    "CatalogEntry",
    "action_committed",
    "action_succeeded",
    "before_action",
    "catalog",
    "ckan",
    "ckanext",
    "datastore_delete",
    "datastore_upsert",
    "failed_login",
    "namespaces",
    "perform_password_reset",
    "register_blueprint",
    "request_finished",
    "request_password_reset",
    "request_started",
    "resource_download",
    "user_created",
    "user_logged_in",
    "user_logged_out",
]

ckan = Namespace()
"""Namespace of the core signals."""

ckanext = Namespace()
"""Namespace of the signals of extensions."""

namespaces: dict[str, Namespace] = {"ckan": ckan, "ckanext": ckanext}


_REQUEST_GONE = (
    "its sender is the Flask application and the request is gone once the response "
    "is sent: subscribe in the process instead"
)


def _core(
    namespace: Namespace,
    name: str,
    contract: Contract,
    aliases: c.Sequence[str] = (),
) -> NamedSignal:
    sig = namespace.signal(name, contract.docstring(), policy=ISOLATE)
    sig.policy = ISOLATE
    sig.contract = contract
    for alias in aliases:
        namespace.setdefault(alias, sig)
    return sig


request_started = _core(
    ckan,
    "request_started",
    Contract(
        sent_when="At the start of every request to the portal, pages and API alike.",
        sender="the Flask application",
        not_deliverable=_REQUEST_GONE,
    ),
)
request_finished = _core(
    ckan,
    "request_finished",
    Contract(
        sent_when="After the response to a request has been built, before it is sent.",
        sender="the Flask application",
        arguments={"response": "the response object"},
        not_deliverable=_REQUEST_GONE,
    ),
)
register_blueprint = _core(
    ckan,
    "register_blueprint",
    Contract(
        sent_when=(
            "Just before a dataset, resource, group or organization blueprint is "
            "registered on the application (once per dataset type: 'dataset', then "
            "'resource')."
        ),
        sender="the blueprint type: 'dataset', 'resource', 'group' or 'organization'",
        arguments={"blueprint": "the Flask blueprint about to be registered"},
        not_deliverable=(
            "its argument is a Flask blueprint, which exists only in the process that "
            "builds the application"
        ),
    ),
)
resource_download = _core(
    ckan,
    "resource_download",
    Contract(
        sent_when="Just before an uploaded resource file is sent to a client.",
        sender="the resource id",
        wire=plain_wire,
    ),
)
user_logged_in = _core(
    ckan,
    "user_logged_in",
    Contract(
        sent_when="After a user logged in through the login page.",
        sender="the Flask application",
        arguments={"user": "the user who logged in"},
        wire=user_wire,
    ),
    aliases=("logged_in",),
)
user_logged_out = _core(
    ckan,
    "user_logged_out",
    Contract(
        sent_when="After a user logged out.",
        sender="the Flask application",
        arguments={"user": "the user who logged out"},
        wire=user_wire,
    ),
    aliases=("logged_out",),
)
failed_login = _core(
    ckan,
    "failed_login",
    Contract(
        sent_when="After a login attempt failed: unknown user or wrong password alike.",
        sender="the login name (user name or e-mail) that was tried",
        wire=plain_wire,
    ),
)
user_created = _core(
    ckan,
    "user_created",
    Contract(
        sent_when="After a new user account has been stored, however it was created.",
        sender="the new user's name",
        arguments={"user": "the new user"},
        wire=user_wire,
    ),
)
request_password_reset = _core(
    ckan,
    "request_password_reset",
    Contract(
        sent_when="After a password-reset link has been mailed to an existing account.",
        sender="the user name",
        arguments={"user": "the user who asked for the reset"},
        wire=user_wire,
    ),
)
perform_password_reset = _core(
    ckan,
    "perform_password_reset",
    Contract(
        sent_when="After a user set a new password through a valid reset link.",
        sender="the user name",
        arguments={"user": "the user whose password was reset"},
        wire=user_wire,
    ),
)
action_succeeded = _core(
    ckan,
    "action_succeeded",
    Contract(
        sent_when=(
            "After every action call that returned without an exception, nested calls "
            "included (they are sent first); a failing action sends nothing. It is sent "
            "inside the action's database transaction, before the commit: what a receiver "
            "writes through context['session'] commits with the change or rolls back with "
            "it. A receiver that raises an ActionError (ValidationError, NotAuthorized, "
            "ObjectNotFound) vetoes the change: the transaction is rolled back and the "
            "caller gets that error; any other failure is isolated and the change "
            "commits. If the commit itself fails, the action raises and its receivers' "
            "writes are gone with it; receivers with effects outside the database "
            "(mail, queues) belong on action_committed."
        ),
        sender="the action name, e.g. 'package_update'",
        arguments={
            "context": (
                "the action's context dict. Besides 'session' (the transaction's SQLAlchemy "
                "session) and 'user' (the caller's name, None when anonymous) it holds what "
                "CKAN's receivers read, so they port by changing their imports: 'model' "
                "(heliograph.model, as CKAN's ckan.model), 'user_obj' (the "
                "heliograph.model.User a user_* action is about, as CKAN's user actions set "
                "it; for every other action the caller's User; None when anonymous) and, "
                "for an action about one dataset (package_create, package_show, "
                "package_update, package_patch, package_delete), 'package' (that dataset's "
                "heliograph.model.Package, as CKAN's package actions set it)"
            ),
            "data_dict": "the action's input dict",
            "result": "what the action returned (may be None)",
        },
        wire=action_wire,
    ),
    aliases=("action_succeed",),
)
action_committed = _core(
    ckan,
    "action_committed",
    Contract(
        sent_when=(
            "After the outermost action's transaction committed: once for every call "
            "that sent action_succeeded in that transaction, nested calls included, in "
            "the same order. Never for a change that rolled back, so this is the place "
            "for effects outside the database."
        ),
        sender="the action name, e.g. 'package_update'",
        arguments={
            "context": "the action's context dict",
            "data_dict": "the action's input dict",
            "result": "what the action returned (may be None)",
        },
        wire=action_wire,
    ),
)
before_action = _core(
    ckan,
    "before_action",
    Contract(
        sent_when=(
            "Before every action call runs (after its context is filled in), nested "
            "calls included; the specification's decorator example subscribes to it. "
            "Subscribers observe: they cannot stop or change the call."
        ),
        sender="the action name, e.g. 'package_update'",
        arguments={
            "context": "the action's context dict",
            "data_dict": "the action's input dict",
        },
        wire=action_wire,
    ),
)
datastore_upsert = _core(
    ckanext,
    "datastore_upsert",
    Contract(
        sent_when="After datastore_upsert wrote records (upsert, insert or update).",
        sender="the resource id",
        arguments={"records": "the records as given in the request"},
        wire=plain_wire,
    ),
)
datastore_delete = _core(
    ckanext,
    "datastore_delete",
    Contract(
        sent_when="After datastore_delete removed records or dropped the table.",
        sender="the resource id",
        arguments={
            "result": "what datastore_delete returned",
            "data_dict": "the request",
        },
        wire=plain_wire,
    ),
)


@dataclass(frozen=True)
class CatalogEntry:
    """One signal of the catalog."""

    namespace: str
    name: str
    signal: NamedSignal
    aliases: tuple[str, ...]

    @property
    def contract(self) -> Contract | None:
        return self.signal.contract


def catalog(include_undocumented: bool = True) -> list[CatalogEntry]:
    """Every signal of both namespaces, core signals first, then by name.

    Signals created by extensions at run time are included (without a
    contract) unless ``include_undocumented`` is false.
    """
    entries: list[CatalogEntry] = []
    for ns_name, namespace in namespaces.items():
        by_signal: dict[int, list[str]] = {}
        for key, sig in list(namespace.items()):
            by_signal.setdefault(id(sig), []).append(key)
        for keys in by_signal.values():
            sig = namespace[keys[0]]
            if not include_undocumented and sig.contract is None:
                continue
            aliases = tuple(sorted(k for k in keys if k != sig.name))
            entries.append(CatalogEntry(ns_name, sig.name, sig, aliases))
    entries.sort(key=lambda e: (e.contract is None, list(namespaces).index(e.namespace), e.name))
    return entries
