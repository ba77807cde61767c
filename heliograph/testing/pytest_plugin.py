"""The pytest plugin for extension authors (``pytest11`` entry point ``heliograph``).

Active wherever heliograph is installed; ``-p no:heliograph`` turns it off.

- ``@pytest.mark.heliograph_plugins('a', 'b')`` on a test, class or module
  loads those plugins for each test it covers (outer markers first).
- The ``with_plugins`` fixture loads more plugins from inside a test
  (``with_plugins('a')``), gives the loaded ones by name
  (``with_plugins['a']``) and registers test-only plugin classes without an
  entry point (``with_plugins.register('name', PluginClass)``).
- Whatever a test did, the loaded plugins and the registrations are put back
  as they were before it (:func:`heliograph.plugins.restore`).
- ``signal_recorder`` records every send of the signals a test names:
  ``signal_recorder.record(sig)``, then ``assert_sent``, ``assert_not_sent``
  and ``calls``.
- Strict mode (:func:`heliograph.signals.strict`) is on for every test: the
  'isolate' policy turns back into 'raise' and the argument guard is on, so
  a subscriber that raises or modifies its arguments fails the test instead
  of hiding in a log. ``@pytest.mark.heliograph_strict(False)`` (or
  ``raise_failures=False`` / ``guard=False``) relaxes it for a test, and the
  ini option ``heliograph_strict = false`` for a whole suite.

pytest imports this module before a suite's coverage measurement starts, so it
imports heliograph inside its fixtures: the suite then measures heliograph's
modules from their first line.
"""

from __future__ import annotations

import collections.abc as c
import contextlib
import typing as t

import pytest

if t.TYPE_CHECKING:
    from heliograph.plugins import Plugin
    from heliograph.testing.recorder import SignalRecorder

MARKER_PLUGINS = "heliograph_plugins"
MARKER_STRICT = "heliograph_strict"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "heliograph_strict",
        type="bool",
        default=True,
        help="heliograph: run every test in signal strict mode (failures raise, guard on)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER_PLUGINS}(*names): load these heliograph plugins for the test "
        "(they are unloaded after it)",
    )
    config.addinivalue_line(
        "markers",
        f"{MARKER_STRICT}(enabled=True, *, raise_failures=True, guard=True): choose the "
        "signal strict mode for the test (on by default)",
    )


def _strictness(request: pytest.FixtureRequest) -> tuple[bool, bool]:
    """``(raise_failures, guard)`` for the test: the closest marker, else the ini option."""
    marker = request.node.get_closest_marker(MARKER_STRICT)
    if marker is None:
        enabled = bool(request.config.getini("heliograph_strict"))
        return enabled, enabled
    enabled = bool(marker.args[0]) if marker.args else True
    return (
        bool(marker.kwargs.get("raise_failures", enabled)),
        bool(marker.kwargs.get("guard", enabled)),
    )


def _marked_plugins(node: pytest.Item) -> list[str]:
    names: dict[str, None] = {}
    for marker in reversed(list(node.iter_markers(MARKER_PLUGINS))):
        for arg in marker.args:
            if not isinstance(arg, str):
                raise TypeError(f"@pytest.mark.{MARKER_PLUGINS} takes plugin names, got {arg!r}")
            names.update(dict.fromkeys(arg.split()))
    return list(names)


@pytest.fixture(autouse=True)
def _heliograph_test_state(request: pytest.FixtureRequest) -> c.Iterator[None]:
    """Strict mode, the marked plugins, and the plugin state put back afterwards."""
    from heliograph import plugins, signals

    state = plugins.snapshot()
    raise_failures, guard = _strictness(request)
    strict: contextlib.AbstractContextManager[None] = (
        signals.strict(raise_failures=raise_failures, guard=guard)
        if raise_failures or guard
        else contextlib.nullcontext()
    )
    with strict:
        try:
            wanted = [n for n in _marked_plugins(request.node) if not plugins.plugin_loaded(n)]
            if wanted:
                plugins.load(*wanted)
            yield
        finally:
            plugins.restore(state)


class PluginsFixture:
    """What the ``with_plugins`` fixture gives a test."""

    def __call__(self, *names: str) -> list[Plugin]:
        """Load ``names`` for this test; returns the plugins, in order."""
        from heliograph import plugins

        return [plugins.load(name) for name in names]

    load = __call__

    def unload(self, *names: str) -> None:
        from heliograph import plugins

        plugins.unload(*names)

    def register(self, name: str, plugin_class: type[Plugin], *, replace: bool = False) -> None:
        """Make ``plugin_class`` loadable as ``name`` for this test (no entry point needed)."""
        from heliograph import plugins

        plugins.register(name, plugin_class, replace=replace)

    def __getitem__(self, name: str) -> Plugin:
        from heliograph import plugins

        plugin = plugins.get_plugin(name)
        if plugin is None:
            raise KeyError(f"plugin {name!r} is not loaded (loaded: {self.loaded})")
        return plugin

    @property
    def loaded(self) -> list[str]:
        """The names of the loaded plugins, in load order."""
        from heliograph import plugins

        return plugins.loaded_plugins()


@pytest.fixture
def with_plugins(_heliograph_test_state: None) -> PluginsFixture:
    """Load plugins from a test; everything is unloaded after it."""
    return PluginsFixture()


@pytest.fixture
def signal_recorder(_heliograph_test_state: None) -> c.Iterator[SignalRecorder]:
    """Record the sends of the signals a test names: ``signal_recorder.record(sig)``."""
    from heliograph.testing.recorder import SignalRecorder

    recorder = SignalRecorder()
    try:
        yield recorder
    finally:
        recorder.close()
