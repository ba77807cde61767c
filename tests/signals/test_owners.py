"""Owners: connections made on behalf of a plugin can be removed for that plugin only."""

from __future__ import annotations

import gc
import typing as t

from heliograph.signals import ANY, Signal

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


def test_disconnect_with_an_owner_leaves_another_owners_connection(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("shared")
    sig.connect(receiver, owner="plugin_a")
    sig.connect(receiver, owner="plugin_b")
    sig.send("x")
    assert calls.labels == ["shared"]
    sig.disconnect(receiver, owner="plugin_a")
    sig.send("x")
    assert calls.labels == ["shared", "shared"]
    assert sig.owners_of(receiver) == ("plugin_b",)
    sig.disconnect(receiver, owner="plugin_b")
    assert sig.send("x") == []
    assert sig.owners_of(receiver) == ()


def test_disconnect_without_an_owner_removes_every_owners_connection(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("shared")
    sig.connect(receiver, owner="plugin_a")
    sig.connect(receiver, "dataset", owner="plugin_b")
    sig.connect(receiver)
    sig.disconnect(receiver)
    assert sig.send("dataset") == []
    assert not sig.receivers


def test_disconnect_with_an_owner_removes_only_that_senders_connection(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a", owner="plugin_a")
    sig.connect(receiver, "b", owner="plugin_a")
    sig.disconnect(receiver, "a", owner="plugin_a")
    sig.send("a")
    sig.send("b")
    assert [sender for _, sender, _ in calls] == ["b"]


def test_disconnect_with_an_owner_that_never_connected_changes_nothing(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, owner="plugin_a")
    sig.disconnect(receiver, owner="plugin_z")
    sig.disconnect(receiver, "a", owner="plugin_a")
    sig.send("a")
    assert calls.labels == ["r"]


def test_receiver_info_lists_the_owners_in_connection_order(sig: Signal, calls: Calls) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, owner="plugin_b")
    sig.connect(receiver, "dataset")
    sig.connect(receiver, owner="plugin_a")
    (info,) = sig.receiver_info()
    assert info.owners == ("plugin_b", "plugin_a", None)
    assert info.senders == (ANY, "dataset")


def test_a_receiver_stays_strong_while_an_owner_holds_it_strongly(sig: Signal) -> None:
    seen: list[t.Any] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(sender)

    sig.connect(receiver, owner="weak_plugin", weak=True)
    sig.connect(receiver, owner="strong_plugin", weak=False)
    sig.disconnect(receiver, owner="strong_plugin")
    assert sig.receiver_info()[0].weak
    del receiver
    gc.collect()
    assert sig.send("x") == []
    assert seen == []
