"""``heliograph.lib.signals``: the module the specification calls ``ckan.lib.signals``."""

from __future__ import annotations

import typing as t

import pytest

from heliograph.lib import signals as lib_signals
from heliograph.signals import ISOLATE, NamedSignal, Namespace

# (namespace, name) -> keyword arguments, as the specification lists them.
CATALOG: dict[tuple[str, str], tuple[str, ...]] = {
    ("ckan", "request_started"): (),
    ("ckan", "request_finished"): ("response",),
    ("ckan", "register_blueprint"): ("blueprint",),
    ("ckan", "resource_download"): (),
    ("ckan", "user_logged_in"): ("user",),
    ("ckan", "user_logged_out"): ("user",),
    ("ckan", "failed_login"): (),
    ("ckan", "user_created"): ("user",),
    ("ckan", "request_password_reset"): ("user",),
    ("ckan", "perform_password_reset"): ("user",),
    ("ckan", "action_succeeded"): ("context", "data_dict", "result"),
    ("ckanext", "datastore_upsert"): ("records",),
    ("ckanext", "datastore_delete"): ("result", "data_dict"),
}
ALIASES = {
    "action_succeed": "action_succeeded",
    "logged_in": "user_logged_in",
    "logged_out": "user_logged_out",
}
ENTRIES = sorted(CATALOG)


def namespace(name: str) -> Namespace:
    return {"ckan": lib_signals.ckan, "ckanext": lib_signals.ckanext}[name]


@pytest.mark.parametrize(("ns", "name"), ENTRIES)
def test_each_core_signal_is_its_namespaces_signal_of_that_name(ns: str, name: str) -> None:
    sig = getattr(lib_signals, name)
    assert isinstance(sig, NamedSignal)
    assert sig.name == name
    assert namespace(ns).signal(name) is sig
    assert lib_signals.namespaces[ns] is namespace(ns)
    assert name in lib_signals.__all__


@pytest.mark.parametrize(("ns", "name"), ENTRIES)
def test_each_core_signal_lives_only_in_its_own_namespace(ns: str, name: str) -> None:
    other = "ckanext" if ns == "ckan" else "ckan"
    assert name not in namespace(other)


@pytest.mark.parametrize(("ns", "name"), ENTRIES)
def test_each_core_signal_isolates_failures(ns: str, name: str) -> None:
    assert getattr(lib_signals, name).policy == ISOLATE


@pytest.mark.parametrize(("ns", "name"), ENTRIES)
def test_each_core_signals_contract_lists_the_documented_arguments(ns: str, name: str) -> None:
    contract = getattr(lib_signals, name).contract
    assert contract is not None
    assert tuple(contract.arguments) == CATALOG[(ns, name)]
    assert contract.sender and contract.sent_when
    assert all(meaning for meaning in contract.arguments.values())
    assert contract.signature() == "(" + ", ".join(["sender", *CATALOG[(ns, name)]]) + ")"


@pytest.mark.parametrize(("ns", "name"), ENTRIES)
def test_each_core_signal_has_a_docstring_saying_when_who_and_what(ns: str, name: str) -> None:
    sig = getattr(lib_signals, name)
    doc = sig.__doc__ or ""
    assert doc != NamedSignal.__doc__
    assert sig.contract.sent_when in doc
    assert sig.contract.sender in doc
    for argument in CATALOG[(ns, name)]:
        assert f"``{argument}``" in doc


@pytest.mark.parametrize(
    ("sender_words", "name"),
    [
        ("application", "request_started"),
        ("application", "request_finished"),
        ("blueprint type", "register_blueprint"),
        ("resource id", "resource_download"),
        ("application", "user_logged_in"),
        ("application", "user_logged_out"),
        ("login name", "failed_login"),
        ("user's name", "user_created"),
        ("user name", "request_password_reset"),
        ("user name", "perform_password_reset"),
        ("action name", "action_succeeded"),
        ("resource id", "datastore_upsert"),
        ("resource id", "datastore_delete"),
    ],
)
def test_each_contract_names_its_sender(sender_words: str, name: str) -> None:
    assert sender_words in getattr(lib_signals, name).contract.sender


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_ckans_names_are_aliases_of_the_same_signals(alias: str, name: str) -> None:
    assert lib_signals.ckan.signal(alias) is getattr(lib_signals, name)
    assert lib_signals.ckan[alias] is getattr(lib_signals, name)


def test_the_specifications_import_snippet_works_as_written() -> None:
    from heliograph.lib.signals import ckan as ckan_namespace
    from heliograph.lib.signals import register_blueprint, request_started

    assert register_blueprint is ckan_namespace.signal("register_blueprint")
    assert request_started is ckan_namespace.signal("request_started")


def test_a_custom_ckanext_signal_is_a_singleton(fresh_ckanext_names: list[str]) -> None:
    name = "testsext_custom_something_happened"
    fresh_ckanext_names.append(name)
    assert name not in lib_signals.ckanext
    # A subscriber may ask for the signal before the extension that sends it does.
    subscribed_through = lib_signals.ckanext.signal(name)
    seen = []

    def listener(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append((sender, kwargs))

    subscribed_through.connect(listener)
    sent_through = lib_signals.ckanext.signal(name, doc="Sent when something happened.")
    assert sent_through is subscribed_through
    sent_through.send("SENDER", ARG1="VALUE1")
    assert seen == [("SENDER", {"ARG1": "VALUE1"})]
    assert sent_through.__doc__ == "Sent when something happened."


def test_a_custom_ckanext_signal_never_sent_calls_nobody(fresh_ckanext_names: list[str]) -> None:
    fresh_ckanext_names.append("otherext_never_sent")
    custom = lib_signals.ckanext.signal("otherext_never_sent")
    assert not custom.receivers
    assert custom.send("x") == []


def test_a_failing_subscriber_of_a_core_signal_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen = []

    def broken(sender: t.Any, **kwargs: t.Any) -> None:
        raise KeyError("result")

    def careful(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(kwargs.get("result"))

    signal = lib_signals.action_succeeded
    with signal.connected_to(broken, "package_show"), signal.connected_to(careful):
        results = dict(signal.send("package_show", context={}, data_dict={"id": "x"}, result=1))
    assert seen == [1]
    assert isinstance(results[broken], KeyError)
    assert "action_succeeded" in caplog.text
    assert not {broken, careful} & {info.receiver for info in signal.receiver_info()}


def test_the_catalog_lists_every_core_signal_once_with_its_aliases() -> None:
    entries = lib_signals.catalog(include_undocumented=False)
    listed = [(e.namespace, e.name) for e in entries]
    assert len(listed) == len(set(listed))
    assert set(ENTRIES) <= set(listed)
    assert len({id(e.signal) for e in entries}) == len(entries)
    aliases = {e.name: e.aliases for e in entries}
    for alias, name in ALIASES.items():
        assert alias in aliases[name]
    assert all(e.contract is e.signal.contract for e in entries)


def test_the_catalog_includes_extension_signals_made_at_run_time(
    fresh_ckanext_names: list[str],
) -> None:
    fresh_ckanext_names.append("myext_made_at_run_time")
    lib_signals.ckanext.signal("myext_made_at_run_time")
    everything = lib_signals.catalog()
    names = [(e.namespace, e.name) for e in everything]
    position = names.index(("ckanext", "myext_made_at_run_time"))
    assert everything[position].contract is None
    # Documented signals come first.
    assert all(e.contract is None for e in everything[position:])
    documented = lib_signals.catalog(include_undocumented=False)
    assert "myext_made_at_run_time" not in [e.name for e in documented]


def test_every_documented_signal_isolates_failures_and_carries_its_contract_as_doc() -> None:
    for entry in lib_signals.catalog(include_undocumented=False):
        assert entry.signal.policy == ISOLATE, entry.name
        assert entry.contract is not None
        assert entry.signal.__doc__ == entry.contract.docstring(), entry.name
        assert namespace(entry.namespace).signal(entry.name) is entry.signal
