"""The logic layer: actions by name, each guarded by an auth function.

``get_action(name)(context, data_dict)`` runs an action. The outermost call
owns the database transaction: it commits when the action returned and rolls
back when it raised, so a failed action leaves nothing half-written.

Every call that returns without an exception sends ``action_succeeded(name,
context=..., data_dict=..., result=...)`` *inside* that transaction, before
the commit (nested calls send their own, first). So a receiver that writes
through ``context['session']`` (the activity stream) writes in the same
transaction: its rows commit with the change or not at all. A receiver that
raises an :class:`ActionError` vetoes the change: everything is rolled back
and the caller gets that error; other receiver failures stay isolated.

After the commit, ``action_committed`` is sent once for each call that sent
``action_succeeded`` in the transaction, in the same order: the signal for
effects outside the database, which must never follow a rolled-back change.

Background receivers (``"background": True`` subscriptions) of any signal
sent during the call get their event written to the outbox in the same
transaction; an event that cannot be written fails the call, so no change
commits without its events.
"""

from __future__ import annotations

import collections.abc as c
import contextvars
import functools
import logging
import time
import typing as t

from heliograph import model
from heliograph.config import config
from heliograph.events import outbox
from heliograph.lib import signals
from heliograph.plugins import plugins_changed

__all__ = [
    "Action",
    "ActionContext",
    "ActionError",
    "AuthFunction",
    "Context",
    "DataDict",
    "NotAuthorized",
    "NotFound",
    "ObjectNotFound",
    "SearchQueryError",
    "UnknownAction",
    "ValidationError",
    "auth_allow_anonymous_access",
    "auth_sysadmins_check",
    "check_access",
    "config",
    "get_action",
    "has_access",
    "is_side_effect_free",
    "registry",
    "set_action_observer",
    "side_effect_free",
]

log = logging.getLogger(__name__)

Context = dict[str, t.Any]
DataDict = dict[str, t.Any]
Action = c.Callable[[Context, DataDict], t.Any]
AuthResult = dict[str, t.Any]
AuthFunction = c.Callable[[Context, DataDict], AuthResult]


class ActionError(Exception):
    """Base of the errors an action raises on purpose."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotAuthorized(ActionError):
    """The caller may not do this."""


class ObjectNotFound(ActionError):
    """What the call names does not exist (or is deleted)."""


NotFound = ObjectNotFound


class ValidationError(ActionError):
    """Bad input; ``error_dict`` maps each bad field to its messages."""

    def __init__(self, error_dict: dict[str, t.Any] | str) -> None:
        if isinstance(error_dict, str):
            error_dict = {"message": error_dict}
        self.error_dict: dict[str, t.Any] = error_dict
        super().__init__(self.summary())

    def summary(self) -> str:
        parts = []
        for field, messages in self.error_dict.items():
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else messages
            parts.append(f"{field}: {text}")
        return ", ".join(parts)


class SearchQueryError(ValidationError):
    """A search request the search cannot run (an unknown parameter).

    The API answers it as CKAN does: 400 with ``__type`` ``Search Query
    Error`` (ckanapi raises ``SearchQueryError``); callers inside the portal
    may treat it as the :class:`ValidationError` it also is.
    """

    def __init__(self, error_dict: dict[str, t.Any], message: str) -> None:
        super().__init__(error_dict)
        self.message = message


class UnknownAction(KeyError):
    """No action is registered under the name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"Action name not known: {self.name}"


# -- marking actions and auth functions -----------------------------------------

F = t.TypeVar("F", bound=c.Callable[..., t.Any])


def side_effect_free(fn: F) -> F:
    """Mark an action callable with GET over the API."""
    fn.side_effect_free = True  # type: ignore[attr-defined]
    return fn


def auth_allow_anonymous_access(fn: F) -> F:
    """Mark an auth function as deciding for anonymous callers too."""
    fn.auth_allow_anonymous_access = True  # type: ignore[attr-defined]
    return fn


def auth_sysadmins_check(fn: F) -> F:
    """Mark an auth function that even sysadmins must pass."""
    fn.auth_sysadmins_check = True  # type: ignore[attr-defined]
    return fn


def is_side_effect_free(action: c.Callable[..., t.Any]) -> bool:
    return bool(getattr(action, "side_effect_free", False))


# -- the registries -------------------------------------------------------------

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("heliograph_action_depth", default=0)


class Registry:
    """Core actions and auth functions plus those of loaded plugins.

    Rebuilt lazily when the set of loaded plugins changes.
    """

    def __init__(self) -> None:
        self._actions: dict[str, Action] | None = None
        self._auth: dict[str, AuthFunction] | None = None
        self._wrapped: dict[str, Action] = {}

    def reset(self) -> None:
        self._actions = None
        self._auth = None
        self._wrapped = {}

    def actions(self) -> dict[str, Action]:
        if self._actions is None:
            self._build()
        assert self._actions is not None
        return self._actions

    def auth_functions(self) -> dict[str, AuthFunction]:
        if self._auth is None:
            self._build()
        assert self._auth is not None
        return self._auth

    def _build(self) -> None:
        from heliograph.logic import action as core_actions
        from heliograph.logic import auth as core_auth

        actions = core_actions.collect()
        auth = core_auth.collect()
        from heliograph.logic import plugin_hooks

        plugin_hooks.extend(actions, auth)
        self._actions, self._auth = actions, auth

    def wrapped(self, name: str) -> Action:
        fn = self._wrapped.get(name)
        if fn is None:
            action = self.actions().get(name)
            if action is None:
                raise UnknownAction(name)
            fn = _wrap(name, action)
            self._wrapped[name] = fn
        return fn


registry = Registry()


def _plugins_changed(_sender: t.Any, **_kwargs: t.Any) -> None:
    registry.reset()


def _follow_plugins() -> None:
    """Rebuild the registries whenever plugins are loaded or unloaded."""
    plugins_changed.connect(_plugins_changed, weak=False)


_follow_plugins()


def get_action(name: str) -> Action:
    """The action called ``name``, wrapped to send ``action_succeeded``.

    Raises :class:`UnknownAction` for a name nobody registered.
    """
    return registry.wrapped(name)


ActionObserver = c.Callable[[str, float, BaseException | None], None]

_action_observer: ActionObserver | None = None


def set_action_observer(observer: ActionObserver | None) -> ActionObserver | None:
    """Have ``observer(name, seconds, exception)`` called after every action
    call, nested ones too (None: nobody); returns the previous observer.

    ``seconds`` covers the call with its commit or rollback; ``exception`` is
    what the call raised, or None. An observer that raises never breaks the
    action: the failure is logged.
    """
    global _action_observer
    if observer is not None and not callable(observer):
        raise TypeError(f"an action observer must be callable or None, not {observer!r}")
    previous, _action_observer = _action_observer, observer
    return previous


def _observe(
    observer: ActionObserver, name: str, started: float, error: BaseException | None
) -> None:
    try:
        observer(name, time.perf_counter() - started, error)
    except Exception:
        log.exception("action observer failed on action %s; the action went on", name)


_Sent = tuple[str, "Context", "DataDict", t.Any]

_committed: contextvars.ContextVar[list[_Sent] | None] = contextvars.ContextVar(
    "heliograph_action_committed", default=None
)


def _wrap(name: str, action: Action) -> Action:
    @functools.wraps(action)
    def call(context: Context | None = None, data_dict: DataDict | None = None) -> t.Any:
        context = {} if context is None else context
        context.setdefault("session", model.Session)
        context.setdefault("user", None)
        data_dict = {} if data_dict is None else data_dict
        depth = _depth.get()
        token = _depth.set(depth + 1)
        outermost = depth == 0
        session = context["session"]
        if outermost:
            sent: list[_Sent] = []
            committed_token = _committed.set(sent)
            scope = outbox.begin(session)
        committed = False
        observer = _action_observer
        started = time.perf_counter() if observer is not None else 0.0
        error: BaseException | None = None
        try:
            signals.before_action.send(name, context=context, data_dict=data_dict)
            result = action(context, data_dict)
            if signals.action_succeeded.has_receivers_for(
                name
            ) or signals.action_committed.has_receivers_for(name):
                _add_ckan_context(name, context, data_dict, result)
            _send_succeeded(name, context, data_dict, result)
            if outermost:
                if scope.error is not None:
                    raise scope.error
                if _has_transaction(session):
                    session.commit()
                committed = True
        except BaseException as exc:
            error = exc
            if outermost:
                session.rollback()
            raise
        finally:
            _depth.reset(token)
            if outermost:
                _committed.reset(committed_token)
                scope.close(committed)
            if observer is not None:
                _observe(observer, name, started, error)
        if outermost:
            for entry in sent:
                signals.action_committed.send(
                    entry[0], context=entry[1], data_dict=entry[2], result=entry[3]
                )
        return result

    call.__heliograph_action__ = name  # type: ignore[attr-defined]
    return call


def _has_transaction(session: t.Any) -> bool:
    """Whether ``session`` began a transaction (a read served from a cache
    began none, and has nothing to commit). A scoped session that made no
    session for this thread has none."""
    registry = getattr(session, "registry", None)
    if registry is not None:
        if not registry.has():
            return False
        session = session()
    return bool(session.in_transaction())


def _add_ckan_context(name: str, context: Context, data_dict: DataDict, result: t.Any) -> None:
    """Put into ``context`` what CKAN's receivers of ``action_succeeded`` read:
    ``model`` (:mod:`heliograph.model`), ``user_obj`` (the user a ``user_*``
    action is about, else the caller; None when anonymous) and, for an action
    about one dataset, ``package`` (its :class:`heliograph.model.Package`).
    An :class:`ActionContext` looks the user and the dataset up when a
    receiver first reads them; a plain dict gets them at once."""
    about = result.get("id") if isinstance(result, dict) else None
    if about is None and result is None and isinstance(data_dict, dict):
        about = data_dict.get("id")
    user_about = about if name.startswith("user_") else None
    package_about = about if name.startswith("package_") else None
    if isinstance(context, ActionContext):
        context.add_ckan_entries(user_about, package_about)
        return
    context["model"] = model
    context["user_obj"] = _user_obj(context, user_about)
    if package_about is not None:
        package = _package_of(context, package_about)
        if package is not None:
            context["package"] = package


def _user_obj(context: Context, about: t.Any) -> t.Any:
    """The user a ``user_*`` action is ``about``, else (None) the caller."""
    from heliograph.logic import auth as authz

    if about is not None:
        return authz.user_by_id_or_name(context, about)
    return authz.current_user(context)


def _package_of(context: Context, about: t.Any) -> t.Any:
    from heliograph.logic import auth as authz

    return authz.package_by_id_or_name(context, about)


_ABSENT: t.Any = object()


class ActionContext(dict[str, t.Any]):
    """An action context (a dict) whose CKAN entries for receivers
    (``package``, the ``user_obj`` of a ``user_*`` action) are looked up
    when first read: a receiver that never reads them costs no query.

    Reading a key, ``get``, ``in``, iterating, copying (``dict(context)``,
    ``{**context}``) all see them as if they had been set; a loader's None
    leaves ``package`` absent, as an eager lookup would. The web layer makes
    its contexts so; any plain dict works too (looked up at once).
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._later: dict[str, c.Callable[[], t.Any]] = {}

    def later(self, key: str, loader: c.Callable[[], t.Any]) -> None:
        """Set ``key`` to ``loader()`` when it is first read."""
        super().pop(key, None)
        self._later[key] = loader

    def add_ckan_entries(self, user_about: t.Any, package_about: t.Any) -> None:
        """``model`` now; ``user_obj`` (the user ``user_about`` names, else
        the caller) and ``package`` (the dataset ``package_about`` names,
        if any) when first read."""
        dict.__setitem__(self, "model", model)
        later = self._later
        later.pop("model", None)
        dict.pop(self, "user_obj", None)
        later["user_obj"] = functools.partial(_user_obj, self, user_about)
        if package_about is not None:
            dict.pop(self, "package", None)
            later["package"] = functools.partial(_package_of, self, package_about)

    def _resolve(self, key: str) -> bool:
        loader = self._later.pop(key, None)
        if loader is None:
            return False
        value = loader()
        if value is None and key == "package":
            return False
        super().__setitem__(key, value)
        return True

    def _resolve_all(self) -> None:
        for key in list(self._later):
            self._resolve(key)

    def __missing__(self, key: str) -> t.Any:
        if self._resolve(key):
            return super().__getitem__(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (
            isinstance(key, str) and key in self._later and self._resolve(key)
        )

    def get(self, key: str, default: t.Any = None) -> t.Any:
        if super().__contains__(key) or (key in self._later and self._resolve(key)):
            return super().__getitem__(key)
        return default

    def __setitem__(self, key: str, value: t.Any) -> None:
        self._later.pop(key, None)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        had = self._later.pop(key, _ABSENT) is not _ABSENT
        if super().__contains__(key) or not had:
            super().__delitem__(key)

    def pop(self, key: str, *default: t.Any) -> t.Any:
        self._resolve(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        self._resolve(key)
        return super().setdefault(key, default)

    def __iter__(self) -> c.Iterator[str]:
        self._resolve_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._resolve_all()
        return super().__len__()

    def keys(self) -> t.Any:
        self._resolve_all()
        return super().keys()

    def values(self) -> t.Any:
        self._resolve_all()
        return super().values()

    def items(self) -> t.Any:
        self._resolve_all()
        return super().items()

    def copy(self) -> dict[str, t.Any]:
        self._resolve_all()
        return dict(super().items())

    def __repr__(self) -> str:
        self._resolve_all()
        return super().__repr__()


_VETOES = (ActionError, outbox.OutboxError)
"""What a receiver of ``action_succeeded`` returns (under 'isolate') to veto."""


def _send_succeeded(name: str, context: Context, data_dict: DataDict, result: t.Any) -> None:
    """Send ``action_succeeded`` inside the transaction; a receiver's
    :class:`ActionError` (returned under the 'isolate' policy) vetoes the change,
    and so does an event that could not be written to the outbox."""
    for _receiver, value in signals.action_succeeded.send(
        name, context=context, data_dict=data_dict, result=result
    ):
        if value is not None and isinstance(value, _VETOES):
            raise value
    sent = _committed.get()
    if sent is not None:
        sent.append((name, context, data_dict, result))


def check_access(name: str, context: Context, data_dict: DataDict | None = None) -> bool:
    """Raise :class:`NotAuthorized` unless the caller may run action ``name``.

    Sysadmins pass every check not marked :func:`auth_sysadmins_check`;
    ``context['ignore_auth']`` skips the check. Anonymous callers are refused
    unless the auth function allows anonymous access.
    """
    refusal = _refusal(name, context, data_dict or {})
    if refusal is not None:
        raise NotAuthorized(refusal)
    return True


def has_access(name: str, context: Context, data_dict: DataDict | None = None) -> bool:
    """Whether :func:`check_access` would let the caller run ``name`` (False
    where it raises NotAuthorized), without raising for a refusal."""
    return _refusal(name, context, data_dict or {}) is None


def _refusal(name: str, context: Context, data_dict: DataDict) -> str | None:
    """Why the caller may not run action ``name``; None when it may."""
    from heliograph.logic import auth as auth_helpers

    if context.get("ignore_auth"):
        return None
    auth_fn = registry.auth_functions().get(name)
    if auth_fn is None:
        return f"Action {name} has no auth function"
    user = auth_helpers.current_user(context)
    if user is not None and user.state != "active":
        return "Your account is not active"
    if user is not None and user.sysadmin and not getattr(auth_fn, "auth_sysadmins_check", False):
        return None
    if user is None and not getattr(auth_fn, "auth_allow_anonymous_access", False):
        return f"Action {name} requires an authenticated user"
    outcome = auth_fn(context, data_dict)
    if not outcome.get("success"):
        return str(outcome.get("msg") or f"User not authorized to run {name}")
    return None
