"""The plugin loader: finding plugins by name, loading and unloading them.

Plugins are found in the entry point group ``heliograph.plugins``, or among
the classes given to :func:`register` (for tests and embedding; a registered
name wins over an entry point only with ``replace=True``).

Loading and unloading are serialised by one lock; other threads may send
signals and iterate :class:`PluginImplementations` meanwhile: they see the
plugins loaded before or after a change, never half of one. Load and unload
cannot be called from inside an :class:`IPluginObserver` hook or
``get_signal_subscriptions()``.
"""

from __future__ import annotations

import collections.abc as c
import difflib
import importlib.metadata as metadata
import importlib.util
import sys
import threading
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from heliograph.config import as_list, config
from heliograph.plugins import subscriptions
from heliograph.plugins.base import (
    Interface,
    Plugin,
    implementation_problems,
    plugin_label,
)
from heliograph.plugins.errors import (
    PluginAlreadyLoadedError,
    PluginError,
    PluginImplementationError,
    PluginNotFoundException,
    PluginNotLoadedError,
)
from heliograph.plugins.interfaces import IPluginObserver, ISignal
from heliograph.signals import ISOLATE, Signal

GROUP = "heliograph.plugins"
"""The entry point group in which plugins are found by name."""

CONFIG_KEY = "heliograph.plugins"
"""The configuration key :func:`load_all` reads: plugin names separated by spaces."""

TInterface = t.TypeVar("TInterface", bound=Interface)

plugins_changed = Signal(
    doc=(
        "Sent after load(), unload(), load_all(), unload_all() or restore() changed "
        "the loaded plugins. Sender: None. Keyword argument: loaded (the names, in "
        "load order). For caches that depend on the loaded plugins."
    ),
    policy=ISOLATE,
)


@dataclass
class _Loaded:
    name: str
    plugin: Plugin
    connections: list[subscriptions.Connection] = field(default_factory=list)


class _State:
    """The loader's state. Mutated under ``lock``; read lock-free via the snapshots."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.busy = False
        self.loaded: dict[str, _Loaded] = {}
        self.registered: dict[str, type[Plugin]] = {}
        # Immutable snapshots, replaced whole on every change.
        self.order: tuple[Plugin, ...] = ()
        self.by_name: c.Mapping[str, Plugin] = MappingProxyType({})

    def publish(self) -> None:
        self.order = tuple(entry.plugin for entry in self.loaded.values())
        self.by_name = MappingProxyType({n: e.plugin for n, e in self.loaded.items()})


_state = _State()


# -- finding plugins --------------------------------------------------------------


def register(name: str, plugin_class: type[Plugin], *, replace: bool = False) -> None:
    """Make ``plugin_class`` loadable as ``name`` without an entry point.

    Meant for tests and for applications that embed plugins. A name that is
    already registered, or provided by an entry point, needs ``replace=True``
    (the registered class then wins). Plugins already loaded are unaffected.
    """
    if not isinstance(name, str) or not name or name != name.strip() or " " in name:
        raise ValueError(f"a plugin name is a non-empty word without spaces, got {name!r}")
    if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
        raise TypeError(
            f"register({name!r}, ...) takes a Plugin or SingletonPlugin subclass, "
            f"got {plugin_class!r}"
        )
    with _state.lock:
        if not replace:
            if name in _state.registered:
                raise PluginError(
                    f"plugin {name!r} is already registered "
                    f"({_class_name(_state.registered[name])}); pass replace=True to replace it"
                )
            if _entry_points(name):
                raise PluginError(
                    f"plugin {name!r} is provided by an entry point in group {GROUP!r}; "
                    "pass replace=True to shadow it"
                )
        _state.registered[name] = plugin_class


def unregister(name: str) -> None:
    """Forget a class given to :func:`register` (a loaded plugin stays loaded)."""
    with _state.lock:
        if _state.registered.pop(name, None) is None:
            raise PluginNotFoundException(name, f"plugin {name!r} was not registered")


def available_plugins() -> dict[str, str]:
    """Every loadable name, sorted, with where it comes from."""
    found: dict[str, str] = {}
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        origin = f" (distribution {dist.name})" if dist is not None else ""
        found.setdefault(ep.name, f"{ep.value}{origin}")
    for name, cls in list(_state.registered.items()):
        found[name] = f"{_class_name(cls)} (registered)"
    return dict(sorted(found.items()))


def plugin_class(name: str) -> type[Plugin]:
    """The class of plugin ``name`` (registered first, then the entry point),
    imported but not loaded; raises :class:`PluginNotFoundException` for an unknown name."""
    return _resolve(name)


def plugin_folder(name: str, folder: str) -> Path | None:
    """The folder ``folder`` (``templates``, ``migrations``) beside the module
    of plugin ``name``'s class, or None when it has none: how a plugin ships
    templates that override the portal's and Alembic migrations of its own
    tables, by convention as in CKAN. A plugin found through its entry point
    and not imported yet is not imported: its folder is found beside the module
    the entry point names (migrating a plugin's tables runs none of its code)."""
    source = _module_file(name)
    if source is None:
        return None
    found = Path(source).resolve().parent / folder
    return found if found.is_dir() else None


def _module_file(name: str) -> str | None:
    if name not in _state.registered:
        eps = _entry_points(name)
        if len(eps) == 1 and eps[0].module not in sys.modules:
            try:
                spec = importlib.util.find_spec(eps[0].module)
            except (ImportError, ValueError):
                spec = None
            if spec is not None and spec.has_location and spec.origin is not None:
                return spec.origin
    module = sys.modules.get(_resolve(name).__module__)
    source = getattr(module, "__file__", None)
    return source if isinstance(source, str) else None


def _entry_points(name: str | None = None) -> list[metadata.EntryPoint]:
    selected = metadata.entry_points(group=GROUP)
    if name is not None:
        selected = selected.select(name=name)
    unique: dict[str, metadata.EntryPoint] = {}
    for ep in selected:
        unique.setdefault(f"{ep.name}={ep.value}", ep)
    return list(unique.values())


def _resolve(name: str) -> type[Plugin]:
    """The plugin class called ``name``: registered first, then the entry point."""
    registered = _state.registered.get(name)
    if registered is not None:
        return registered
    eps = _entry_points(name)
    if not eps:
        known = sorted(set(available_plugins()))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "none"
        raise PluginNotFoundException(
            name,
            f"plugin {name!r} not found: no entry point named {name!r} in group {GROUP!r}"
            f"{hint} (available: {listing}). Install the distribution that provides it, "
            f"or fix the name in {CONFIG_KEY}.",
        )
    if len(eps) > 1:
        targets = ", ".join(ep.value for ep in eps)
        raise PluginError(
            f"plugin {name!r} is ambiguous: {len(eps)} entry points in group {GROUP!r} "
            f"have that name ({targets}); uninstall all but one"
        )
    ep = eps[0]
    try:
        obj = ep.load()
    except Exception as exc:
        exc.add_note(f"while importing plugin {name!r} from entry point {ep.value!r} ({GROUP})")
        raise
    if not (isinstance(obj, type) and issubclass(obj, Plugin)):
        raise PluginError(
            f"plugin {name!r}: entry point {ep.value!r} in group {GROUP!r} is {obj!r}, "
            "not a heliograph.plugins.Plugin or SingletonPlugin subclass"
        )
    return obj


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- loading and unloading -------------------------------------------------------


@t.overload
def load() -> list[Plugin]: ...
@t.overload
def load(name: str, /) -> Plugin: ...
@t.overload
def load(first: str, second: str, /, *names: str) -> list[Plugin]: ...
def load(*names: str) -> Plugin | list[Plugin]:
    """Load the named plugins, in order; return the plugin (one name) or a list.

    Every name is checked first: an unknown name raises
    :class:`PluginNotFoundException`, a loaded or repeated one
    :class:`PluginAlreadyLoadedError`, and nothing is loaded. A plugin whose
    interfaces or subscriptions are wrong raises
    :class:`PluginImplementationError` before anything of it is connected. If
    any plugin fails, those this call loaded before it are unloaded again.
    """
    with _state.lock:
        _enter("load")
        try:
            loaded = _load_many(names)
        finally:
            _state.busy = False
    if loaded:
        _announce()
    return loaded[0] if len(names) == 1 else loaded


def unload(*names: str) -> None:
    """Unload the named plugins, in order.

    A name that is not loaded raises :class:`PluginNotLoadedError` before
    anything is unloaded. Each plugin's connections are removed even when an
    observer raises; the first such error is raised once all are unloaded.
    """
    errors: list[Exception] = []
    with _state.lock:
        _enter("unload")
        try:
            _check_names(names)
            missing = [name for name in names if name not in _state.loaded]
            if missing:
                loaded = ", ".join(_state.loaded) or "none"
                raise PluginNotLoadedError(
                    f"cannot unload {_quoted(missing)}: not loaded (loaded: {loaded})"
                )
            for name in names:
                _unload_one(_state.loaded[name], errors)
        finally:
            _state.busy = False
    if names:
        _announce()
    _raise_first(errors)


def unload_all() -> None:
    """Unload every loaded plugin, the last loaded first."""
    with _state.lock:
        names = list(reversed(_state.loaded))
        unload(*names)


def load_all(names: str | c.Iterable[str] | None = None) -> list[Plugin]:
    """Make the loaded plugins exactly ``names``: unload all, then load them in order.

    ``names`` defaults to the configuration key ``heliograph.plugins`` of
    :data:`heliograph.config.config` (names separated by spaces or commas).
    """
    wanted = as_list(config.get(CONFIG_KEY) if names is None else names)
    with _state.lock:
        unload_all()
        return load(*wanted) if wanted else []


def plugin_loaded(name: str) -> bool:
    """Whether a plugin is loaded under ``name``."""
    return name in _state.by_name


def get_plugin(name: str) -> Plugin | None:
    """The plugin loaded under ``name``, or None when it is not loaded."""
    return _state.by_name.get(name)


def loaded_plugins() -> list[str]:
    """The names of the loaded plugins, in load order."""
    return list(_state.by_name)


@contextmanager
def use_plugin(*names: str) -> c.Iterator[t.Any]:
    """Load the plugins for the ``with`` block and unload them after it.

    Yields what :func:`load` returns. Plugins of the list that the block
    already unloaded are left alone.
    """
    result = load(*names)
    try:
        yield result
    finally:
        still = [name for name in names if plugin_loaded(name)]
        if still:
            unload(*still)


class PluginImplementations(t.Generic[TInterface]):
    """The loaded plugins that implement ``interface``, in load order.

    Iterating reads the current state each time, so an object kept across
    loads and unloads stays correct. Safe to iterate while another thread
    loads or unloads.
    """

    def __init__(self, interface: type[TInterface]) -> None:
        if not (isinstance(interface, type) and issubclass(interface, Interface)):
            raise TypeError(f"PluginImplementations takes an interface, got {interface!r}")
        self.interface = interface

    def __iter__(self) -> c.Iterator[TInterface]:
        interface = self.interface
        return iter([t.cast(TInterface, p) for p in _state.order if interface.provided_by(p)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        names = [t.cast(Plugin, p).name for p in self]
        return f"<PluginImplementations({self.interface.__name__}) {names!r}>"


# -- state for test harnesses --------------------------------------------------------


@dataclass(frozen=True)
class PluginState:
    """What :func:`snapshot` saw: the loaded names and the registered classes."""

    loaded: tuple[str, ...]
    registered: tuple[tuple[str, type[Plugin]], ...]


def snapshot() -> PluginState:
    """The loaded plugins and registrations, for :func:`restore`."""
    with _state.lock:
        return PluginState(tuple(_state.loaded), tuple(_state.registered.items()))


def restore(state: PluginState) -> None:
    """Bring the loaded plugins and registrations back to ``state``.

    Plugins loaded since are unloaded (last first), plugins unloaded since are
    loaded again, in the original order. The unloading always completes; an
    observer's error is raised after the state was restored.
    """
    errors: list[Exception] = []
    with _state.lock:
        _enter("restore")
        try:
            current = list(_state.loaded)
            keep = 0
            while (
                keep < min(len(current), len(state.loaded)) and current[keep] == state.loaded[keep]
            ):
                keep += 1
            changed = keep < len(current) or keep < len(state.loaded)
            for name in reversed(current[keep:]):
                _unload_one(_state.loaded[name], errors)
            _state.registered = dict(state.registered)
            _load_many(state.loaded[keep:])
        finally:
            _state.busy = False
    if changed:
        _announce()
    _raise_first(errors)


# -- the steps (call with the lock held) ------------------------------------------------


def _enter(what: str) -> None:
    if _state.busy:
        raise PluginError(
            f"{what}() cannot be called while plugins are being loaded or unloaded "
            "(from an IPluginObserver hook or get_signal_subscriptions())"
        )
    _state.busy = True


def _check_names(names: c.Sequence[str]) -> None:
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"plugin names are strings, got {name!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PluginAlreadyLoadedError(f"plugin {_quoted(repeated)} named more than once")


def _load_many(names: c.Sequence[str]) -> list[Plugin]:
    _check_names(names)
    already = [name for name in names if name in _state.loaded]
    if already:
        raise PluginAlreadyLoadedError(
            f"plugin {_quoted(already)} is already loaded; unload it first"
        )
    classes = [(name, _resolve(name)) for name in names]
    done: list[_Loaded] = []
    try:
        for name, cls in classes:
            entry = _load_one(name, cls)
            done.append(entry)
            _notify("after_load", entry.plugin)
    except BaseException as exc:
        errors: list[Exception] = []
        for entry in reversed(done):
            _unload_one(entry, errors)
        for error in errors:
            exc.add_note(f"while unloading the plugins loaded before it: {error!r}")
        raise
    return [entry.plugin for entry in done]


def _load_one(name: str, cls: type[Plugin]) -> _Loaded:
    plugin = cls()
    for other in _state.loaded.values():
        if other.plugin is plugin:
            raise PluginAlreadyLoadedError(
                f"plugin {name!r}: {_class_name(cls)} is a SingletonPlugin already "
                f"loaded as {other.name!r}; a singleton is loaded under one name at a time"
            )
    plugin.name = name
    label = plugin_label(plugin)
    problems = implementation_problems(plugin)
    if problems:
        raise PluginImplementationError("\n".join(problems))
    connections: list[subscriptions.Connection] = []
    if ISignal.provided_by(plugin):
        try:
            mapping = t.cast(ISignal, plugin).get_signal_subscriptions()
        except Exception as exc:
            exc.add_note(f"in ISignal.get_signal_subscriptions() of plugin {label}")
            raise
        connections = subscriptions.plan(name, label, mapping)
    _notify("before_load", plugin)
    subscriptions.connect(connections, name)
    entry = _Loaded(name, plugin, connections)
    _state.loaded[name] = entry
    _state.publish()
    return entry


def _unload_one(entry: _Loaded, errors: list[Exception]) -> None:
    _notify("before_unload", entry.plugin, errors)
    del _state.loaded[entry.name]
    _state.publish()
    for error in subscriptions.disconnect(entry.connections, entry.name):
        error.add_note(f"while disconnecting the subscriptions of plugin {entry.name!r}")
        errors.append(error)
    entry.connections = []
    _notify("after_unload", entry.plugin, errors)


def _notify(hook: str, plugin: Plugin, errors: list[Exception] | None = None) -> None:
    """Call ``hook`` of every loaded observer; raise at once, or collect into ``errors``."""
    for observer in PluginImplementations(IPluginObserver):
        try:
            getattr(observer, hook)(plugin)
        except Exception as exc:
            exc.add_note(
                f"in IPluginObserver.{hook}() of plugin {plugin_label(observer)}, "
                f"for plugin {plugin.name!r}"
            )
            if errors is None:
                raise
            errors.append(exc)


def _announce() -> None:
    plugins_changed.send(None, loaded=tuple(_state.by_name))


def _raise_first(errors: list[Exception]) -> None:
    if not errors:
        return
    first = errors[0]
    for other in errors[1:]:
        first.add_note(f"also: {other!r}")
    raise first


def _quoted(names: c.Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
