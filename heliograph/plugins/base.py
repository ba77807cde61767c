"""Interfaces and plugin classes: ``Interface``, ``implements``, ``Plugin``, ``SingletonPlugin``.

A plugin class declares what it implements in its body, as in CKAN::

    class ExamplePlugin(p.SingletonPlugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self):
            ...

``implements(I)`` records the interface; ``implements(I, inherit=True)``
also makes ``I`` a base class, so the plugin inherits the interface's default
methods and needs to define only those it cares about. Without ``inherit``
the plugin must define every method of the interface itself: that is checked
when the plugin is loaded (see :func:`implementation_problems`), not when a
method is first called.
"""

from __future__ import annotations

import inspect
import sys
import threading
import typing as t

_DECLARED = "__heliograph_implements__"
"""Class-body variable in which :func:`implements` collects its declarations."""


class Interface:
    """Base of every plugin interface.

    An interface is a class whose public methods are the hooks a plugin can
    provide; their bodies are the defaults a plugin gets with
    ``implements(interface, inherit=True)``.
    """

    @classmethod
    def provided_by(cls, instance: object) -> bool:
        """Whether ``instance`` is a plugin whose class implements this interface."""
        return cls.implemented_by(type(instance))

    @classmethod
    def implemented_by(cls, other: type) -> bool:
        """Whether the class ``other`` declares this interface (or a sub-interface)."""
        if not isinstance(other, type):
            raise TypeError(f"implemented_by() takes a class, got {other!r}")
        declared: frozenset[type[Interface]] = getattr(other, "_implements", frozenset())
        return any(issubclass(interface, cls) for interface in declared)


def implements(interface: type[Interface], inherit: bool = False) -> None:
    """Declare, inside a plugin's class body, that the plugin implements ``interface``.

    With ``inherit`` the interface becomes a base class of the plugin, so its
    default method bodies are inherited.
    """
    if not (isinstance(interface, type) and issubclass(interface, Interface)):
        raise TypeError(f"implements() takes an Interface subclass, got {interface!r}")
    if interface is Interface:
        raise TypeError("implements(Interface): name a concrete interface such as ISignal")
    frame = sys._getframe(1)
    namespace = frame.f_locals
    if namespace is frame.f_globals or "__module__" not in namespace:
        raise TypeError(
            f"implements({interface.__name__}) can only be used in the body of a plugin class"
        )
    declared: list[tuple[type[Interface], bool]] = namespace.setdefault(_DECLARED, [])
    declared.append((interface, inherit))


class PluginMeta(type):
    """Turns the ``implements()`` calls of a class body into ``_implements``
    (every interface the class and its bases declare) and, for
    ``inherit=True``, into extra base classes."""

    _implements: frozenset[type[Interface]]

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, t.Any], **kwargs: t.Any
    ) -> PluginMeta:
        declared: list[tuple[type[Interface], bool]] = namespace.pop(_DECLARED, [])
        inherited = tuple(
            dict.fromkeys(
                interface
                for interface, inherit in declared
                if inherit and not any(issubclass(base, interface) for base in bases)
            )
        )
        cls = super().__new__(mcs, name, bases + inherited, namespace, **kwargs)
        found: set[type[Interface]] = {interface for interface, _ in declared}
        for base in bases:
            found.update(getattr(base, "_implements", ()))
        cls._implements = frozenset(found)
        return cls

    def __call__(cls, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if not issubclass(cls, SingletonPlugin):
            return super().__call__(*args, **kwargs)
        # One instance per class, created once: calling the class again returns
        # it without running __init__ a second time.
        with _singleton_lock:
            instance = cls.__dict__.get("_singleton_instance")
            if instance is None:
                instance = super().__call__(*args, **kwargs)
                type.__setattr__(cls, "_singleton_instance", instance)
            return instance


_singleton_lock = threading.RLock()


class Plugin(metaclass=PluginMeta):
    """Base of plugins of which every load makes a new instance.

    ``name`` is set to the name the plugin was loaded under.
    """

    name: str = ""

    def __repr__(self) -> str:
        cls = type(self)
        label = f" {self.name!r}" if self.name else ""
        return f"<{cls.__module__}.{cls.__qualname__}{label}>"


class SingletonPlugin(Plugin):
    """Base of plugins that exist once: every instantiation returns the same object,
    so a plugin that is unloaded and loaded again keeps its state."""


def plugin_label(plugin: object) -> str:
    """``'name' (module.Class)`` for messages."""
    cls = type(plugin)
    name = getattr(plugin, "name", "") or "<unnamed>"
    return f"{name!r} ({cls.__module__}.{cls.__qualname__})"


_methods_cache: dict[type[Interface], dict[str, inspect.Signature | None]] = {}


def interface_methods(interface: type[Interface]) -> dict[str, inspect.Signature | None]:
    """The hooks of ``interface``: public methods, with their signatures (``self`` dropped)."""
    cached = _methods_cache.get(interface)
    if cached is not None:
        return cached
    methods: dict[str, inspect.Signature | None] = {}
    for klass in reversed(interface.__mro__):
        if not (issubclass(klass, Interface) and klass is not Interface):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or not inspect.isfunction(value):
                continue
            try:
                signature = inspect.signature(value)
            except (TypeError, ValueError):
                methods[attr] = None
                continue
            params = list(signature.parameters.values())[1:]
            methods[attr] = _plain(signature.replace(parameters=params))
    _methods_cache[interface] = methods
    return methods


def implementation_problems(plugin: Plugin) -> list[str]:
    """What keeps ``plugin`` from implementing the interfaces it declares.

    A method is missing, is not callable, or cannot be called with the
    arguments the interface's method takes. Empty when all is well.
    """
    problems = []
    for interface in sorted(type(plugin)._implements, key=lambda i: i.__qualname__):
        for method, expected in interface_methods(interface).items():
            hook = f"{interface.__name__}.{method}"
            if getattr(type(plugin), method, None) is None:
                problems.append(
                    f"plugin {plugin_label(plugin)} implements {interface.__name__} but does "
                    f"not define {method}(); define it, or declare "
                    f"implements({interface.__name__}, inherit=True) to inherit the default"
                )
                continue
            bound = getattr(plugin, method)
            if not callable(bound):
                problems.append(
                    f"plugin {plugin_label(plugin)}: {hook} must be a method, got {bound!r}"
                )
                continue
            problem = _call_problem(bound, expected)
            if problem:
                problems.append(
                    f"plugin {plugin_label(plugin)}: its {method}{_signature_text(bound)} cannot "
                    f"be called as {hook}{expected}: {problem}"
                )
    return problems


def _call_problem(fn: t.Callable[..., t.Any], expected: inspect.Signature | None) -> str | None:
    if expected is None:
        return None
    try:
        actual = inspect.signature(fn)
    except (TypeError, ValueError):  # no introspectable signature: trust it
        return None
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for param in expected.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            args.append(object())
        elif param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = object()
    try:
        actual.bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _signature_text(fn: t.Callable[..., t.Any]) -> str:
    try:
        return str(_plain(inspect.signature(fn)))
    except (TypeError, ValueError):
        return "(...)"


def _plain(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` without annotations, for messages."""
    empty = inspect.Parameter.empty
    params = [param.replace(annotation=empty) for param in signature.parameters.values()]
    return signature.replace(parameters=params, return_annotation=empty)
