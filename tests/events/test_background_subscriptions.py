"""Background subscriptions are checked when the plugin loads, before
anything is connected, with messages naming the plugin, signal and entry."""

from __future__ import annotations

import typing as t

import pytest

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from heliograph.plugins import background
from tests.events import background_samples as samples


class Holder:
    def method(self, sender: t.Any, **kwargs: t.Any) -> None:
        pass


module_level_holder = Holder()


def make_closure() -> t.Any:
    def closure(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    return closure


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"receiver": lambda sender, **kw: None, "background": True},
            "cannot import the receiver",
        ),
        ({"receiver": make_closure(), "background": True}, "not a lambda, a closure"),
        ({"receiver": Holder().method, "background": True}, "method of another object"),
        (
            {"receiver": samples.record, "background": True, "weak": True},
            "'weak' does not apply",
        ),
        (
            {"receiver": samples.record, "background": True, "sender": object()},
            "filters by a str or int sender",
        ),
        ({"receiver": samples.record, "background": "yes"}, "'background' must be True or False"),
        ({"receiver": samples.record, "backgruond": True}, "did you mean 'background'"),
    ],
)
def test_bad_background_entries_are_refused_before_anything_connects(
    entry: dict[str, t.Any], expected: str
) -> None:
    before = tk.signals.action_succeeded.receiver_info()
    p.register(
        "bad_bg",
        samples.subscription_plugin(
            lambda: {
                tk.signals.action_succeeded: [
                    {"receiver": samples.record, "background": True},
                    entry,
                ]
            }
        ),
        replace=True,
    )
    with pytest.raises(p.SignalSubscriptionError) as info:
        p.load("bad_bg")
    message = str(info.value)
    assert "bad_bg" in message
    assert "ckan.action_succeeded" in message
    assert "entry [1]" in message
    assert expected in message
    assert tk.signals.action_succeeded.receiver_info() == before
    assert background.subscriptions(tk.signals.action_succeeded) == []


@pytest.mark.parametrize("name", ["request_started", "request_finished", "register_blueprint"])
def test_signals_that_cannot_cross_a_process_refuse_background_receivers(name: str) -> None:
    signal = getattr(tk.signals, name)
    p.register(
        "bad_bg",
        samples.subscription_plugin(
            lambda: {signal: [{"receiver": samples.record, "background": True}]}
        ),
        replace=True,
    )
    with pytest.raises(p.SignalSubscriptionError, match=f"ckan.{name} cannot have background"):
        p.load("bad_bg")


def test_a_method_of_a_module_level_object_is_importable() -> None:
    path = background.receiver_path(module_level_holder.method)
    assert path == f"{__name__}:module_level_holder.method"
    assert background.resolve(path) == module_level_holder.method


def test_background_receivers_are_listed_with_their_plugin_in_the_catalog() -> None:
    from heliograph.lib import signal_docs

    p.register("bg_updates", samples.Updates, replace=True)
    with p.use_plugin("bg_updates"):
        text = signal_docs.render_text()
    assert (
        "tests.events.background_samples:record [background] "
        "(sender: 'package_update'; connected by: bg_updates)" in text
    )
    assert "tests.events.background_samples:record [background]" not in signal_docs.render_text()
