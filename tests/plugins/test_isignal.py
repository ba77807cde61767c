"""ISignal: the specification's snippets, the examples, validation and exact disconnection."""

from __future__ import annotations

import gc
import inspect
import logging
import sys
import typing as t
import weakref

import pytest

import heliograph.lib.signals as lib_signals
import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from tests.plugins.plugin_samples import (
    numbers,
    other_receiver,
    owned_by,
    shared_receiver,
    subscription_plugin,
    words,
)

pytestmark = pytest.mark.usefixtures("samples")


def receivers_of(signal: t.Any, sender: t.Any) -> list[t.Any]:
    return [receiver for receiver, _ in signal.send(sender)]


# -- the specification's snippets ---------------------------------------------------------


def test_toolkit_signals_is_the_signals_module() -> None:
    assert tk.signals is lib_signals
    assert p.toolkit is tk
    assert tk.signals.request_started is lib_signals.ckan.signal("request_started")
    assert tk.signals.ckanext.signal("x_spec") is lib_signals.ckanext.signal("x_spec")


def test_spec_namespaces_snippet() -> None:
    from heliograph.lib.signals import ckan as ckan_namespace
    from heliograph.lib.signals import register_blueprint, request_started

    assert register_blueprint is ckan_namespace.signal("register_blueprint")
    assert request_started is ckan_namespace.signal("request_started")


def test_spec_decorator_connect_snippet() -> None:
    calls: list[t.Any] = []

    @p.toolkit.signals.action_succeeded.connect
    def action_subscriber(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append(sender)

    try:
        tk.signals.action_succeeded.send("package_show", context={}, data_dict={}, result=None)
    finally:
        tk.signals.action_succeeded.disconnect(action_subscriber)
    assert calls == ["package_show"]


def test_spec_decorator_connect_snippet_as_written() -> None:
    calls: list[tuple[t.Any, dict[str, t.Any]]] = []

    @p.toolkit.signals.before_action.connect
    def action_subscriber(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append((sender, kwargs))

    try:
        p.toolkit.signals.before_action.send("package_show", context={}, data_dict={"id": "x"})
    finally:
        p.toolkit.signals.before_action.disconnect(action_subscriber)
    assert calls == [("package_show", {"context": {}, "data_dict": {"id": "x"}})]


def action_subscriber(sender: t.Any, **kwargs: t.Any) -> str:
    return f"saw {sender}"


class ExampleISignalPlugin(p.SingletonPlugin):
    """The specification's plugin (on action_succeeded, whose sender is the action name)."""

    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            p.toolkit.signals.action_succeeded: [
                # when subscribing to every signal of type
                action_subscriber,
                # when subscribing to signals from particular sender
                {"receiver": action_subscriber, "sender": "sender_name"},
            ]
        }


def test_spec_plugin_with_both_subscription_forms_in_one_list() -> None:
    sig = tk.signals.action_succeeded
    p.register("spec_example", ExampleISignalPlugin)
    p.load("spec_example")
    (info,) = [i for i in sig.receiver_info() if "spec_example" in i.owners]
    assert info.receiver is action_subscriber
    assert set(info.senders) == {
        p.toolkit.signals.ckan.signal("action_succeeded").ANY,
        "sender_name",
    }
    assert not info.weak  # plugins hold their receivers strongly
    kwargs: dict[str, t.Any] = {"context": {}, "data_dict": {}, "result": None}
    assert (action_subscriber, "saw sender_name") in sig.send("sender_name", **kwargs)
    assert receivers_of(sig, "other").count(action_subscriber) == 1
    p.unload("spec_example")
    assert action_subscriber not in receivers_of(sig, "sender_name")


def test_spec_custom_signal_snippet() -> None:
    custom = tk.signals.ckanext.signal("custom_spec_happened")
    seen: list[tuple[t.Any, dict[str, t.Any]]] = []

    def subscriber(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append((sender, kwargs))

    with custom.connected_to(subscriber):
        custom.send("SENDER", ARG1="VALUE1", ARG2="VALUE2")
    assert seen == [("SENDER", {"ARG1": "VALUE1", "ARG2": "VALUE2"})]


# -- the shipped examples ------------------------------------------------------------------


def test_example_isignal() -> None:
    from heliograph.ext.example_isignal.plugin import x2, x10

    isignal_number = tk.signals.ckanext.signal("isignal_number")
    with p.use_plugin("example_isignal"):
        assert isignal_number.send(10) == [(x2, 20), (x10, 100)]
        assert isignal_number.send(5) == [(x2, 10)]
    assert isignal_number.send(10) == []
    assert isignal_number.send(5) == []


def _hide_custom_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make it as if example_custom_sender were not installed."""
    for name in [m for m in sys.modules if m.startswith("heliograph.ext.example_custom_sender")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "heliograph.ext.example_custom_sender", None)
    monkeypatch.delitem(tk.signals.ckanext, "custom_something_happened", raising=False)


def test_custom_listener_without_the_sender_installed_is_never_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heliograph.ext.example_custom_listener import listeners

    _hide_custom_sender(monkeypatch)
    with pytest.raises(ImportError):
        import heliograph.ext.example_custom_sender.signals  # noqa: F401
    calls: list[t.Any] = []

    def spy(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append(sender)

    monkeypatch.setattr(listeners, "custom_listener", spy)
    p.load("example_custom_listener")  # no ImportError
    sig = tk.signals.ckanext.signal("custom_something_happened")
    assert owned_by(sig, "example_custom_listener") == [spy]
    p.unload("example_custom_listener")
    assert calls == []
    assert owned_by(sig, "example_custom_listener") == []


@pytest.mark.parametrize(
    "order",
    [
        ("example_custom_listener", "example_custom_sender"),
        ("example_custom_sender", "example_custom_listener"),
    ],
)
def test_custom_sender_and_listener_share_the_signal(
    order: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from heliograph.ext.example_custom_listener import listeners
    from heliograph.ext.example_custom_sender.signals import custom_something_happened

    p.load(*order)
    assert custom_something_happened is tk.signals.ckanext.signal("custom_something_happened")
    assert owned_by(custom_something_happened, "example_custom_listener") == [
        listeners.custom_listener
    ]
    sender = p.get_plugin("example_custom_sender")
    with caplog.at_level(logging.INFO, logger=listeners.__name__):
        results = sender.something_happened(what="it")  # type: ignore[union-attr]
    assert results == [(listeners.custom_listener, "heard example_custom_sender")]
    assert "custom_something_happened from 'example_custom_sender'" in caplog.text


# -- validation: all checked before anything is connected ---------------------------------


def two_positional(sender: t.Any, other: t.Any, **kwargs: t.Any) -> None: ...


def no_kwargs(sender: t.Any) -> None: ...


def no_positional(**kwargs: t.Any) -> None: ...


def keyword_sender(*, sender: t.Any, **kwargs: t.Any) -> None: ...


def required_keyword(sender: t.Any, *, user: t.Any, **kwargs: t.Any) -> None: ...


INVALID: list[tuple[str, t.Callable[[], object], list[str]]] = [
    (
        "key_not_a_signal",
        lambda: {"test_plugins_numbers": [shared_receiver]},
        [
            "key 'test_plugins_numbers' is not a signal",
            "tk.signals.ckanext.signal('test_plugins_numbers')",
        ],
    ),
    (
        "receiver_not_callable",
        lambda: {numbers: [shared_receiver, 42]},
        ["signal ckanext.test_plugins_numbers, entry [1] 42", "not callable"],
    ),
    (
        "dict_receiver_not_callable",
        lambda: {numbers: [{"receiver": "shared_receiver"}]},
        ["entry [0] {'receiver': 'shared_receiver'}", "'shared_receiver' is not callable"],
    ),
    (
        "dict_without_receiver",
        lambda: {numbers: [{"sender": 1}]},
        ["signal ckanext.test_plugins_numbers, entry [0] {'sender': 1}", "has no 'receiver'"],
    ),
    (
        "misspelt_key",
        lambda: {numbers: [{"reciever": shared_receiver, "sender": 1}]},
        ["entry [0] {'reciever'", "unknown key 'reciever' (did you mean 'receiver'?)"],
    ),
    (
        "extra_key",
        lambda: {numbers: [{"receiver": shared_receiver, "priority": 1}]},
        ["unknown key 'priority'", "'receiver' (required), 'sender', 'weak' and 'background'"],
    ),
    (
        "weak_not_bool",
        lambda: {numbers: [{"receiver": shared_receiver, "weak": "yes"}]},
        ["'weak' must be True or False"],
    ),
    (
        "receiver_without_kwargs",
        lambda: {numbers: [no_kwargs]},
        ["no_kwargs", "does not accept arbitrary keyword arguments"],
    ),
    (
        "receiver_without_positional",
        lambda: {numbers: [no_positional]},
        ["no_positional", "cannot be called with the sender"],
    ),
    (
        "receiver_with_two_positionals",
        lambda: {numbers: [two_positional]},
        ["two_positional", "cannot be called with the sender", "'other'"],
    ),
    (
        "receiver_with_keyword_only_sender",
        lambda: {numbers: [keyword_sender]},
        ["keyword_sender", "cannot be called with the sender"],
    ),
    (
        "receiver_with_required_keyword",
        lambda: {numbers: [required_keyword]},
        ["required_keyword", "'user'"],
    ),
    (
        "value_not_a_list",
        lambda: {numbers: shared_receiver},
        ["signal ckanext.test_plugins_numbers: expected a list", "shared_receiver"],
    ),
    (
        "value_a_dict_not_in_a_list",
        lambda: {numbers: {"receiver": shared_receiver}},
        ["signal ckanext.test_plugins_numbers: expected a list"],
    ),
    ("mapping_not_a_dict", lambda: None, ["must return a dict", "got None"]),
]


@pytest.mark.parametrize(("case", "mapping", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_subscriptions_are_rejected_naming_plugin_signal_and_entry(
    case: str, mapping: t.Callable[[], object], expected: list[str]
) -> None:
    # A valid subscription on another signal comes first: it must not stay connected.
    def full() -> object:
        inner = mapping()
        return {words: [shared_receiver], **inner} if isinstance(inner, dict) else inner

    p.register("bad", subscription_plugin(full))
    with pytest.raises(p.SignalSubscriptionError) as info:
        p.load("bad")
    message = str(info.value)
    assert "plugin 'bad'" in message
    assert "ISignal.get_signal_subscriptions()" in message
    for text in expected:
        assert text in message
    assert isinstance(info.value, TypeError)
    assert not p.plugin_loaded("bad")
    assert owned_by(words, "bad") == []
    assert owned_by(numbers, "bad") == []
    assert not words.receivers and not numbers.receivers


def test_every_problem_is_reported_at_once() -> None:
    p.register(
        "bad",
        subscription_plugin(lambda: {numbers: [42, {"reciever": shared_receiver}], "x": []}),
    )
    with pytest.raises(p.SignalSubscriptionError) as info:
        p.load("bad")
    assert len(info.value.problems) == 3
    assert str(info.value).startswith("3 problems in the signal subscriptions of plugin 'bad'")


def test_a_receiver_without_an_introspectable_signature_is_trusted() -> None:
    with pytest.raises(ValueError):
        inspect.signature(max)
    p.register("builtin", subscription_plugin(lambda: {numbers: [max]}))
    p.load("builtin")
    assert owned_by(numbers, "builtin") == [max]


def test_get_signal_subscriptions_raising_names_the_plugin() -> None:
    def broken() -> object:
        raise KeyError("oops")

    p.register("broken", subscription_plugin(broken))
    with pytest.raises(KeyError) as info:
        p.load("broken")
    assert "get_signal_subscriptions() of plugin 'broken'" in "".join(info.value.__notes__)
    assert not p.plugin_loaded("broken")


# -- exact connection and disconnection ------------------------------------------------------


def test_two_plugins_subscribing_the_same_function_are_independent() -> None:
    p.load("shared_a", "shared_b")
    assert numbers.owners_of(shared_receiver) == ("shared_a", "shared_b")
    assert receivers_of(numbers, 5) == [shared_receiver]  # called once per send
    assert receivers_of(numbers, 1) == [shared_receiver, other_receiver]
    p.unload("shared_a")
    assert numbers.owners_of(shared_receiver) == ("shared_b",)
    assert receivers_of(numbers, 5) == [shared_receiver]
    assert receivers_of(words, 5) == [shared_receiver]
    p.unload("shared_b")
    assert receivers_of(numbers, 1) == []
    assert receivers_of(words, 5) == []


def test_a_direct_connection_survives_a_plugin_unload() -> None:
    numbers.connect(shared_receiver, weak=False)
    try:
        p.load("shared_a")
        p.unload("shared_a")
        assert receivers_of(numbers, 5) == [shared_receiver]
    finally:
        numbers.disconnect(shared_receiver)


def test_fresh_closures_on_every_call_never_leak() -> None:
    made: list[weakref.ref[t.Any]] = []

    def fresh_mapping() -> object:
        def fresh(sender: t.Any, **kwargs: t.Any) -> str:
            return "fresh"

        made.append(weakref.ref(fresh))
        return {numbers: [fresh, {"receiver": fresh, "sender": 2}]}

    p.register("fresh", subscription_plugin(fresh_mapping))
    for _ in range(5):
        p.load("fresh")
        gc.collect()
        (current,) = owned_by(numbers, "fresh")  # strongly held: alive after collection
        assert current is made[-1]()
        p.unload("fresh")
        assert not numbers.receivers
    del current
    gc.collect()
    assert [ref() for ref in made] == [None] * 5  # nothing keeps old closures alive


def test_the_singleton_with_fresh_closures_disconnects_what_it_connected() -> None:
    for _ in range(3):
        plugin = p.load("fresh_closures")
        assert owned_by(numbers, "fresh_closures") == [plugin.made[-1]]  # type: ignore[attr-defined]
        p.unload("fresh_closures")
        assert owned_by(numbers, "fresh_closures") == []


def test_a_weak_subscription_lets_its_receiver_go() -> None:
    class Holder:
        def receive(self, sender: t.Any, **kwargs: t.Any) -> str:
            return "held"

    holder = Holder()
    alive = weakref.ref(holder)

    def mapping() -> object:
        return {numbers: [{"receiver": alive().receive, "weak": True}]}  # type: ignore[union-attr]

    p.register("weak", subscription_plugin(mapping))
    p.load("weak")
    assert receivers_of(numbers, 1) == [holder.receive]
    del holder
    gc.collect()
    assert receivers_of(numbers, 1) == []
    p.unload("weak")  # nothing left to disconnect, and no error


def test_the_catalog_shows_plugin_owners() -> None:
    from heliograph.lib.signal_docs import render_text

    p.load("example_isignal")
    text = render_text()
    assert (
        "heliograph.ext.example_isignal.plugin.x10 (senders: 10; connected by: example_isignal)"
        in text
    )


@pytest.mark.heliograph_strict(False)
def test_the_isolate_log_names_the_owning_plugin(caplog: pytest.LogCaptureFixture) -> None:
    def failing(sender: t.Any, **kwargs: t.Any) -> None:
        raise RuntimeError("boom")

    p.register("failing", subscription_plugin(lambda: {tk.signals.failed_login: [failing]}))
    p.load("failing")
    with caplog.at_level(logging.ERROR):
        tk.signals.failed_login.send("someone")
    assert "(plugin failing) failed on signal failed_login" in caplog.text


def test_custom_sender_announces_each_created_dataset_to_the_listener(
    db: t.Any, with_plugins: t.Any, signal_recorder: t.Any
) -> None:
    from heliograph import model

    with_plugins("example_custom_sender", "example_custom_listener")
    sig = tk.signals.ckanext.signal("custom_something_happened")
    signal_recorder.record(sig)
    session = model.Session()
    session.add(model.User(name="boss", email="boss@example.org", sysadmin=True))
    session.commit()
    context = {"user": "boss"}
    org = tk.get_action("organization_create")(dict(context), {"name": "org"})
    tk.get_action("package_create")(dict(context), {"name": "fresh", "owner_org": org["id"]})
    signal_recorder.assert_sent(
        sig, sender="example_custom_sender", times=1, what="dataset created", dataset="fresh"
    )
    tk.get_action("package_show")({}, {"id": "fresh"})
    assert len(signal_recorder.calls(sig)) == 1  # other actions announce nothing
