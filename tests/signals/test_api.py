"""blinker 1.9's public API: connecting, disconnecting, sending, muting, namespaces."""

from __future__ import annotations

import gc
import typing as t

import blinker
import pytest

from heliograph import signals
from heliograph.signals import ANY, NamedSignal, Namespace, Signal

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


def test_connect_returns_the_receiver(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    assert sig.connect(receiver) is receiver


def test_connect_used_as_a_decorator_connects_and_keeps_the_function(sig: Signal) -> None:
    seen = []

    @sig.connect
    def on_signal(sender: t.Any, **kwargs: t.Any) -> str:
        seen.append(sender)
        return "ok"

    assert callable(on_signal)
    assert sig.send("x") == [(on_signal, "ok")]
    assert seen == ["x"]


def test_connect_via_connects_the_decorated_function_for_that_sender_only(sig: Signal) -> None:
    seen = []

    @sig.connect_via("dataset")
    def on_dataset(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(sender)

    sig.send("group")
    sig.send("dataset")
    assert seen == ["dataset"]
    assert on_dataset.__name__ == "on_dataset"


def test_connect_via_holds_the_receiver_strongly_by_default(sig: Signal) -> None:
    seen = []

    def install() -> None:
        @sig.connect_via(ANY)
        def local(sender: t.Any, **kwargs: t.Any) -> None:
            seen.append(sender)

    install()
    sig.send("x")
    assert seen == ["x"]


def test_connect_of_something_not_callable_raises_type_error(sig: Signal) -> None:
    with pytest.raises(TypeError, match="not callable"):
        sig.connect(42)  # type: ignore[type-var]


def test_connected_to_connects_only_inside_the_block(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    with sig.connected_to(receiver):
        sig.send("inside")
    sig.send("outside")
    assert [sender for _, sender, _ in calls] == ["inside"]
    assert not sig.receivers


def test_connected_to_for_a_sender_filters_by_that_sender(sig: Signal, calls: Calls) -> None:
    with sig.connected_to(calls.receiver("r"), sender="a"):
        sig.send("a")
        sig.send("b")
    assert [sender for _, sender, _ in calls] == ["a"]


def test_connected_to_holds_the_receiver_strongly(sig: Signal) -> None:
    with sig.connected_to(lambda sender, **kwargs: sender):
        gc.collect()
        (info,) = sig.receiver_info()
        assert not info.weak
        assert sig.send("x") == [(info.receiver, "x")]


def test_connected_to_disconnects_when_the_block_raises(sig: Signal, calls: Calls) -> None:
    with pytest.raises(KeyError), sig.connected_to(calls.receiver("r")):
        raise KeyError("boom")
    assert sig.send("x") == []


@pytest.mark.parametrize("owner", [None, "some_plugin"])
def test_connected_to_leaves_a_connection_made_elsewhere(
    sig: Signal, calls: Calls, owner: str | None
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, owner=owner)
    with sig.connected_to(receiver):
        pass
    sig.send("after")
    assert calls.labels == ["r"]
    assert sig.owners_of(receiver) == (owner,)


def test_disconnect_for_any_removes_the_receiver_from_every_sender(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a")
    sig.connect(receiver, "b")
    sig.connect(receiver)
    sig.disconnect(receiver)
    for sender in ("a", "b", "c"):
        assert sig.send(sender) == []
    assert not sig.receivers


def test_disconnect_for_a_sender_keeps_the_other_senders(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a")
    sig.connect(receiver, "b")
    sig.disconnect(receiver, "a")
    sig.send("a")
    sig.send("b")
    assert [sender for _, sender, _ in calls] == ["b"]


def test_disconnect_for_a_sender_keeps_a_connection_for_any(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver)
    sig.disconnect(receiver, "a")
    sig.send("a")
    assert calls.labels == ["r"]


def test_disconnect_of_the_last_sender_leaves_no_receivers(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a")
    sig.disconnect(receiver, "a")
    assert not sig.receivers
    assert not sig.has_receivers_for("a")


def test_disconnect_of_a_receiver_never_connected_changes_nothing(
    sig: Signal, calls: Calls
) -> None:
    kept = calls.receiver("kept")
    sig.connect(kept)
    sig.disconnect(calls.receiver("stranger"))
    sig.disconnect(calls.receiver("stranger"), "a")
    sig.send("x")
    assert calls.labels == ["kept"]


def test_muted_calls_nobody_and_returns_an_empty_list(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"))
    sig.connect(calls.receiver("s"), "a")
    with sig.muted():
        assert sig.is_muted
        assert sig.send("a") == []
        assert sig.send("b") == []
    assert calls == []


def test_muted_unmutes_after_the_block_even_when_it_raises(sig: Signal, calls: Calls) -> None:
    receiver = sig.connect(calls.receiver("r"))
    with pytest.raises(ValueError), sig.muted():
        raise ValueError
    assert not sig.is_muted
    assert sig.send("x") == [(receiver, "r")]


def test_is_muted_setter_mutes_and_unmutes(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"))
    sig.is_muted = True
    sig.send("x")
    sig.is_muted = False
    sig.send("y")
    assert [sender for _, sender, _ in calls] == ["y"]


def test_send_returns_each_receiver_with_its_return_value(sig: Signal, calls: Calls) -> None:
    first = sig.connect(calls.receiver("first", result=1))
    second = sig.connect(calls.receiver("second", result={"x": 2}))
    assert sig.send("s") == [(first, 1), (second, {"x": 2})]


def test_send_calls_receivers_with_the_sender_and_keyword_arguments(
    sig: Signal, calls: Calls
) -> None:
    sig.connect(calls.receiver("r"))
    sig.send("the-sender", a=1, b=[2])
    assert calls == [("r", "the-sender", {"a": 1, "b": [2]})]


def test_send_without_a_sender_sends_none(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"))
    sig.send()
    assert calls == [("r", None, {})]


def test_send_takes_the_sender_positionally_only(sig: Signal) -> None:
    got = []

    def receiver(first: t.Any, **kwargs: t.Any) -> None:
        got.append((first, kwargs))

    sig.connect(receiver)
    sig.send(sender="keyword")
    assert got == [(None, {"sender": "keyword"})]


def test_send_with_no_receivers_returns_an_empty_list(sig: Signal) -> None:
    assert sig.send("x", a=1) == []


def test_receivers_for_yields_the_receivers_a_send_would_call(sig: Signal, calls: Calls) -> None:
    everyone = sig.connect(calls.receiver("everyone"))
    only_a = sig.connect(calls.receiver("only_a"), "a")
    assert list(sig.receivers_for("a")) == [everyone, only_a]
    assert list(sig.receivers_for("b")) == [everyone]
    assert list(sig.receivers_for(ANY)) == [everyone]


def test_has_receivers_for_says_whether_a_send_would_call_anyone(sig: Signal, calls: Calls) -> None:
    assert not sig.has_receivers_for("a")
    sig.connect(calls.receiver("only_a"), "a")
    assert sig.has_receivers_for("a")
    assert not sig.has_receivers_for("b")
    assert not sig.has_receivers_for(ANY)
    sig.connect(calls.receiver("everyone"))
    assert sig.has_receivers_for("b")
    assert sig.has_receivers_for(ANY)


def test_receivers_is_truthy_exactly_while_something_is_connected(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    assert not sig.receivers
    sig.connect(receiver, "a")
    assert sig.receivers
    sig.disconnect(receiver)
    assert not sig.receivers


def test_receiver_connected_is_sent_with_receiver_sender_and_weak(
    sig: Signal, calls: Calls
) -> None:
    meta: list[tuple[t.Any, dict[str, t.Any]]] = []

    # As in blinker, the meta-signal passes ``sender=`` as a keyword argument,
    # so its receivers name their first parameter otherwise.
    def on_connect(signal: t.Any, **kwargs: t.Any) -> None:
        meta.append((signal, kwargs))

    sig.receiver_connected.connect(on_connect)
    receiver = calls.receiver("r")
    sig.connect(receiver, "a", weak=False)
    sig.connect(receiver)
    assert meta == [
        (sig, {"receiver": receiver, "sender": "a", "weak": False}),
        (sig, {"receiver": receiver, "sender": ANY, "weak": True}),
    ]


def test_receiver_disconnected_is_sent_with_receiver_and_sender(sig: Signal, calls: Calls) -> None:
    meta: list[tuple[t.Any, dict[str, t.Any]]] = []

    def on_disconnect(signal: t.Any, **kwargs: t.Any) -> None:
        meta.append((signal, kwargs))

    sig.receiver_disconnected.connect(on_disconnect)
    receiver = sig.connect(calls.receiver("r"), "a")
    sig.disconnect(receiver, "a")
    sig.disconnect(receiver)
    assert meta == [
        (sig, {"receiver": receiver, "sender": "a"}),
        (sig, {"receiver": receiver, "sender": ANY}),
    ]


def test_meta_signals_are_per_signal(calls: Calls) -> None:
    one, other = Signal(), Signal()
    meta = []
    one.receiver_connected.connect(lambda signal, **kw: meta.append(signal), weak=False)
    other.connect(calls.receiver("r"))
    one.connect(calls.receiver("s"))
    assert meta == [one]


def test_a_type_error_from_receiver_connected_undoes_the_connect(sig: Signal, calls: Calls) -> None:
    def refuse(signal: t.Any, **kwargs: t.Any) -> None:
        raise TypeError("refused")

    sig.receiver_connected.connect(refuse)
    receiver = calls.receiver("r")
    with pytest.raises(TypeError, match="refused"):
        sig.connect(receiver)
    assert sig.send("x") == []


def test_signal_any_is_the_any_symbol() -> None:
    assert Signal.ANY is ANY
    assert repr(ANY) == "ANY"
    assert signals.Symbol("ANY") is ANY


class TestBlinkerAny:
    """Code written for blinker passes ``blinker.ANY``; it must mean ANY here too."""

    def test_connect_for_blinker_any_receives_every_sender(self, sig: Signal, calls: Calls) -> None:
        sig.connect(calls.receiver("r"), blinker.ANY)
        sig.send("a")
        sig.send(object())
        assert calls.labels == ["r", "r"]

    def test_disconnect_for_blinker_any_removes_every_connection(
        self, sig: Signal, calls: Calls
    ) -> None:
        receiver = sig.connect(calls.receiver("r"), "a")
        sig.connect(receiver)
        sig.disconnect(receiver, blinker.ANY)
        assert sig.send("a") == []
        assert not sig.receivers

    def test_connected_to_with_blinker_any_connects_and_disconnects(
        self, sig: Signal, calls: Calls
    ) -> None:
        with sig.connected_to(calls.receiver("r"), blinker.ANY):
            sig.send("a")
        sig.send("a")
        assert calls.labels == ["r"]
        assert not sig.receivers

    def test_connect_via_blinker_any_and_lookups_treat_it_as_any(
        self, sig: Signal, calls: Calls
    ) -> None:
        sig.connect_via(blinker.ANY)(calls.receiver("r"))
        assert sig.has_receivers_for(blinker.ANY)
        assert len(list(sig.receivers_for(blinker.ANY))) == 1
        assert sig.receiver_info()[0].senders == (ANY,)


class TestNamespaces:
    def test_namespace_signal_returns_the_same_object_for_the_same_name(self) -> None:
        ns = Namespace()
        first = ns.signal("thing_happened")
        assert ns.signal("thing_happened") is first
        assert ns.signal("other_thing") is not first
        assert ns["thing_happened"] is first

    def test_namespace_signal_keeps_the_first_doc_and_fills_a_missing_one(self) -> None:
        ns = Namespace()
        undocumented = ns.signal("a")
        ns.signal("a", doc="filled later")
        assert undocumented.__doc__ == "filled later"
        documented = ns.signal("b", doc="first")
        ns.signal("b", doc="second")
        assert documented.__doc__ == "first"

    def test_namespaces_are_independent(self) -> None:
        assert Namespace().signal("x") is not Namespace().signal("x")

    def test_named_signal_has_its_name_and_shows_it_in_its_repr(self) -> None:
        named = NamedSignal("package_created", doc="docs")
        assert named.name == "package_created"
        assert "'package_created'" in repr(named)
        assert repr(named).startswith("<") and repr(named).endswith(">")
        assert named.__doc__ == "docs"

    def test_default_signal_function_returns_a_singleton_from_the_default_namespace(
        self,
    ) -> None:
        name = "heliograph_tests_default_namespace_probe"
        try:
            created = signals.signal(name, doc="probe")
            assert isinstance(created, NamedSignal)
            assert signals.signal(name) is created
            assert signals.default_namespace[name] is created
            assert created.name == name
        finally:
            signals.default_namespace.pop(name, None)

    def test_a_namespace_signal_uses_the_policy_given_at_creation(self) -> None:
        ns = Namespace()
        assert ns.signal("plain").policy == "raise"
        assert ns.signal("careful", policy="isolate").policy == "isolate"
