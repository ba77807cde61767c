"""Finding, loading and unloading plugins; interfaces and observers."""

from __future__ import annotations

import typing as t

import pytest

import heliograph.plugins as p
from tests.plugins.plugin_samples import Observer, Plain, SharedA, SharedB, numbers, owned_by

pytestmark = pytest.mark.usefixtures("samples")


def test_load_returns_the_plugin_and_marks_it_loaded() -> None:
    plugin = p.load("shared_a")
    assert isinstance(plugin, SharedA)
    assert plugin.name == "shared_a"
    assert p.plugin_loaded("shared_a")
    assert p.get_plugin("shared_a") is plugin
    assert p.loaded_plugins() == ["shared_a"]


def test_load_of_several_names_returns_a_list_in_order() -> None:
    plugins = p.load("plain", "shared_a")
    assert [plugin.name for plugin in plugins] == ["plain", "shared_a"]


def test_get_plugin_of_a_plugin_not_loaded_is_none() -> None:
    assert p.get_plugin("shared_a") is None
    assert not p.plugin_loaded("shared_a")


def test_unknown_plugin_names_the_plugin_the_group_and_a_close_match() -> None:
    with pytest.raises(p.PluginNotFoundException) as info:
        p.load("shared_aa")
    message = str(info.value)
    assert "'shared_aa'" in message
    assert "'heliograph.plugins'" in message
    assert "did you mean 'shared_a'?" in message
    assert info.value.name == "shared_aa"
    assert isinstance(info.value, LookupError)


def test_an_unknown_name_among_several_loads_nothing() -> None:
    with pytest.raises(p.PluginNotFoundException):
        p.load("shared_a", "missing")
    assert p.loaded_plugins() == []
    assert owned_by(numbers, "shared_a") == []


def test_loading_twice_is_an_error_naming_the_plugin() -> None:
    p.load("shared_a")
    with pytest.raises(p.PluginAlreadyLoadedError, match="'shared_a' is already loaded"):
        p.load("shared_a")
    with pytest.raises(p.PluginAlreadyLoadedError, match="named more than once"):
        p.load("plain", "plain")
    assert p.loaded_plugins() == ["shared_a"]


def test_unloading_a_plugin_not_loaded_is_an_error_and_unloads_nothing() -> None:
    p.load("shared_a")
    with pytest.raises(p.PluginNotLoadedError, match="cannot unload 'plain': not loaded"):
        p.unload("shared_a", "plain")
    assert p.plugin_loaded("shared_a")


def test_a_singleton_plugin_is_the_same_object_on_every_load() -> None:
    first = p.load("shared_a")
    p.unload("shared_a")
    assert p.load("shared_a") is first
    assert SharedA() is first


def test_a_plain_plugin_is_a_new_object_on_every_load() -> None:
    first = p.load("shared_b")
    p.unload("shared_b")
    assert p.load("shared_b") is not first


def test_a_singleton_registered_under_two_names_loads_under_one_at_a_time() -> None:
    p.register("shared_a_again", SharedA)
    p.load("shared_a")
    with pytest.raises(p.PluginAlreadyLoadedError, match="already loaded as 'shared_a'"):
        p.load("shared_a_again")


def test_plugin_implementations_lists_loaded_implementers_in_load_order() -> None:
    signal_plugins = p.PluginImplementations(p.ISignal)
    assert list(signal_plugins) == []
    p.load("shared_b", "plain", "shared_a")
    assert [plugin.name for plugin in signal_plugins] == ["shared_b", "shared_a"]
    assert len(signal_plugins) == 2
    p.unload("shared_b")
    assert [plugin.name for plugin in signal_plugins] == ["shared_a"]


def test_unload_all_unloads_the_last_loaded_first() -> None:
    observer = Observer()
    observer.log.clear()
    p.load("observer", "plain", "shared_a")
    p.unload_all()
    assert p.loaded_plugins() == []
    unloads = [name for hook, name in observer.log if hook == "before_unload"]
    assert unloads == ["shared_a", "plain", "observer"]


def test_use_plugin_loads_for_the_block_only() -> None:
    with p.use_plugin("shared_a") as plugin:
        assert isinstance(plugin, SharedA)
        assert p.plugin_loaded("shared_a")
    assert not p.plugin_loaded("shared_a")
    with p.use_plugin("shared_a", "plain") as plugins:
        assert [plugin.name for plugin in plugins] == ["shared_a", "plain"]
        p.unload("plain")  # the block may unload some itself
    assert p.loaded_plugins() == []


def test_load_all_reads_the_config_key_and_replaces_the_loaded_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p.load("plain")
    monkeypatch.setitem(p.toolkit.config, "heliograph.plugins", "shared_a  shared_b")
    loaded = p.load_all()
    assert [plugin.name for plugin in loaded] == ["shared_a", "shared_b"]
    assert p.loaded_plugins() == ["shared_a", "shared_b"]
    monkeypatch.setitem(p.toolkit.config, "heliograph.plugins", ["plain"])
    p.load_all()
    assert p.loaded_plugins() == ["plain"]
    assert p.load_all("shared_a,plain") and p.loaded_plugins() == ["shared_a", "plain"]
    monkeypatch.delitem(p.toolkit.config, "heliograph.plugins")
    assert p.load_all() == []
    assert p.loaded_plugins() == []


def test_plugins_changed_is_sent_after_each_change() -> None:
    seen: list[tuple[str, ...]] = []

    def changed(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(kwargs["loaded"])

    with p.plugins_changed.connected_to(changed):
        p.load("plain", "shared_a")
        p.unload("plain")
    assert seen == [("plain", "shared_a"), ("shared_a",)]


# -- interfaces -----------------------------------------------------------------------


def test_implements_outside_a_class_body_is_an_error() -> None:
    with pytest.raises(TypeError, match="only be used in the body of a plugin class"):
        p.implements(p.ISignal)


def test_implements_takes_an_interface() -> None:
    with pytest.raises(TypeError, match="takes an Interface subclass"):

        class Wrong(p.Plugin):
            p.implements(SharedA)  # type: ignore[arg-type]


def test_interfaces_are_inherited_by_subclasses() -> None:
    class Child(SharedA):
        pass

    assert p.ISignal.implemented_by(Child)
    assert p.ISignal.provided_by(SharedB())
    assert not p.ISignal.provided_by(Plain())
    assert not p.IPluginObserver.implemented_by(SharedA)


def test_inherit_gives_the_default_methods() -> None:
    class Quiet(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

    assert issubclass(Quiet, p.IPluginObserver)
    p.register("quiet", Quiet)
    p.load("quiet", "plain")  # its inherited hooks are called and do nothing
    assert p.loaded_plugins() == ["quiet", "plain"]


def test_a_missing_interface_method_is_an_error_at_load_naming_plugin_and_hook() -> None:
    class HalfObserver(p.Plugin):
        p.implements(p.IPluginObserver)

        def after_load(self, plugin: p.Plugin) -> None:
            pass

    p.register("half", HalfObserver)
    with pytest.raises(p.PluginImplementationError) as info:
        p.load("half")
    message = str(info.value)
    assert "plugin 'half'" in message
    assert "does not define before_load()" in message
    assert "implements(IPluginObserver, inherit=True)" in message
    assert not p.plugin_loaded("half")


def test_an_interface_method_with_the_wrong_signature_is_an_error_at_load() -> None:
    class Needy(p.Plugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self, extra: int) -> p.SignalMapping:
            return {}

    p.register("needy", Needy)
    with pytest.raises(p.PluginImplementationError) as info:
        p.load("needy")
    assert "plugin 'needy'" in str(info.value)
    assert "get_signal_subscriptions(extra) cannot be called as" in str(info.value)
    assert "ISignal.get_signal_subscriptions()" in str(info.value)


def test_plugin_implementations_takes_an_interface() -> None:
    with pytest.raises(TypeError):
        p.PluginImplementations(SharedA)  # type: ignore[type-var]


# -- registration ---------------------------------------------------------------------


def test_register_refuses_taken_names_and_non_plugins() -> None:
    with pytest.raises(p.PluginError, match="already registered"):
        p.register("plain", Plain)
    with pytest.raises(p.PluginError, match="provided by an entry point"):
        p.register("example_isignal", Plain)
    with pytest.raises(TypeError, match="Plugin or SingletonPlugin subclass"):
        p.register("thing", object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without spaces"):
        p.register("two words", Plain)


def test_register_with_replace_shadows_an_entry_point() -> None:
    p.register("example_isignal", Plain, replace=True)
    assert isinstance(p.load("example_isignal"), Plain)


def test_unregister_forgets_the_class() -> None:
    p.unregister("plain")
    with pytest.raises(p.PluginNotFoundException):
        p.load("plain")
    with pytest.raises(p.PluginNotFoundException, match="was not registered"):
        p.unregister("plain")


def test_available_plugins_lists_entry_points_and_registrations() -> None:
    available = p.available_plugins()
    assert available["example_isignal"].startswith(
        "heliograph.ext.example_isignal.plugin:ExampleISignalPlugin"
    )
    assert available["plain"] == "tests.plugins.plugin_samples.Plain (registered)"


def test_an_entry_point_that_is_not_a_plugin_class_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.metadata as metadata

    from heliograph.plugins import core

    fake = metadata.EntryPoint("not_a_plugin", "tests.plugins.plugin_samples:numbers", p.GROUP)
    monkeypatch.setattr(core, "_entry_points", lambda name=None: [fake])
    with pytest.raises(p.PluginError, match=r"not a heliograph\.plugins\.Plugin") as info:
        p.load("not_a_plugin")
    assert "'tests.plugins.plugin_samples:numbers'" in str(info.value)


def test_an_entry_point_that_fails_to_import_says_which_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.metadata as metadata

    from heliograph.plugins import core

    fake = metadata.EntryPoint("broken", "no_such_module_here:Plugin", p.GROUP)
    monkeypatch.setattr(core, "_entry_points", lambda name=None: [fake])
    with pytest.raises(ModuleNotFoundError) as info:
        p.load("broken")
    assert any("plugin 'broken'" in note for note in info.value.__notes__)


# -- observers --------------------------------------------------------------------------


def test_observer_hooks_are_called_in_order() -> None:
    observer = Observer()
    observer.log.clear()
    p.load("observer")
    p.load("plain")
    p.unload("plain")
    p.unload("observer")
    assert observer.log == [
        ("after_load", "observer"),
        ("before_load", "plain"),
        ("after_load", "plain"),
        ("before_unload", "plain"),
        ("after_unload", "plain"),
        ("before_unload", "observer"),
    ]


def test_an_observer_sees_the_plugin_connected_after_load_and_not_before() -> None:
    seen: list[tuple[str, int]] = []

    class Watcher(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

        def before_load(self, plugin: p.Plugin) -> None:
            seen.append(("before_load", len(owned_by(numbers, plugin.name))))

        def after_load(self, plugin: p.Plugin) -> None:
            seen.append(("after_load", len(owned_by(numbers, plugin.name))))

        def after_unload(self, plugin: p.Plugin) -> None:
            seen.append(("after_unload", len(owned_by(numbers, plugin.name))))

    p.register("watcher", Watcher)
    p.load("watcher")
    seen.clear()
    p.load("shared_a")
    p.unload("shared_a")
    assert seen == [("before_load", 0), ("after_load", 1), ("after_unload", 0)]


def test_an_observer_raising_in_before_load_cancels_the_load_and_is_named() -> None:
    class Veto(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

        def before_load(self, plugin: p.Plugin) -> None:
            raise RuntimeError("no")

    p.register("veto", Veto)
    p.load("veto")
    with pytest.raises(RuntimeError, match="no") as info:
        p.load("plain", "shared_a")
    assert "IPluginObserver.before_load() of plugin 'veto'" in "".join(info.value.__notes__)
    assert p.loaded_plugins() == ["veto"]


def test_a_failure_after_the_first_plugin_unloads_what_the_call_loaded() -> None:
    bad = {numbers: [lambda: None]}
    from tests.plugins.plugin_samples import subscription_plugin

    p.register("bad", subscription_plugin(lambda: bad))
    with pytest.raises(p.SignalSubscriptionError):
        p.load("shared_a", "bad")
    assert p.loaded_plugins() == []
    assert owned_by(numbers, "shared_a") == []


def test_unload_completes_even_if_an_observer_raises() -> None:
    class Grumpy(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

        def before_unload(self, plugin: p.Plugin) -> None:
            if plugin.name == "shared_a":
                raise RuntimeError("grumble")

    p.register("grumpy", Grumpy)
    p.load("grumpy", "shared_a")
    with pytest.raises(RuntimeError, match="grumble"):
        p.unload("shared_a")
    assert not p.plugin_loaded("shared_a")
    assert owned_by(numbers, "shared_a") == []


def test_load_from_inside_an_observer_hook_is_refused() -> None:
    class Greedy(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

        def before_load(self, plugin: p.Plugin) -> None:
            p.load("shared_b")

    p.register("greedy", Greedy)
    p.load("greedy")
    with pytest.raises(p.PluginError, match="cannot be called while plugins are being loaded"):
        p.load("plain")
    assert p.loaded_plugins() == ["greedy"]
