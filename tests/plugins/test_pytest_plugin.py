"""The pytest plugin for extension authors, run on sample test files through pytester."""

from __future__ import annotations

import pytest

import heliograph.plugins as p

# In the test module, not in tests/plugins/conftest.py: pytest refuses
# pytest_plugins in a conftest below the root one when the whole suite runs.
pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    return pytester.runpytest(
        "--strict-markers", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args
    )


def test_the_plugin_is_registered_through_its_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.heliograph_plugins(*names):*", "@pytest.mark.heliograph_strict(*"]
    )


def test_the_marker_loads_plugins_for_a_test_or_class_only(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        import heliograph.plugins as p
        import heliograph.plugins.toolkit as tk

        @pytest.mark.heliograph_plugins("example_isignal")
        def test_marked():
            assert p.loaded_plugins() == ["example_isignal"]
            assert len(tk.signals.ckanext.signal("isignal_number").send(10)) == 2

        def test_unmarked():
            assert p.loaded_plugins() == []
            assert tk.signals.ckanext.signal("isignal_number").send(10) == []

        @pytest.mark.heliograph_plugins("example_isignal")
        class TestMarkedClass:
            @pytest.mark.heliograph_plugins("example_custom_listener example_isignal")
            def test_outer_marker_first(self):
                assert p.loaded_plugins() == ["example_isignal", "example_custom_listener"]

            def test_class_marker(self):
                assert p.loaded_plugins() == ["example_isignal"]
        """,
    )
    result.assert_outcomes(passed=4)


def test_with_plugins_loads_registers_and_gives_plugins_by_name(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import heliograph.plugins as p

        class Mine(p.SingletonPlugin):
            pass

        def test_load(with_plugins):
            with_plugins.register("mine", Mine)
            (mine, isignal) = with_plugins("mine", "example_isignal")
            assert isinstance(mine, Mine)
            assert with_plugins["example_isignal"] is isignal
            assert with_plugins.loaded == ["mine", "example_isignal"]
            with_plugins.unload("mine")
            assert with_plugins.loaded == ["example_isignal"]

        def test_nothing_left(with_plugins):
            assert with_plugins.loaded == []
            assert "mine" not in p.available_plugins()
        """,
    )
    result.assert_outcomes(passed=2)


def test_plugin_state_is_put_back_whatever_a_test_did(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        import heliograph.plugins as p

        @pytest.fixture(scope="session", autouse=True)
        def session_plugins():
            p.load("example_custom_listener")
            yield
            p.unload_all()
        """
    )
    result = run(
        pytester,
        """
        import pytest
        import heliograph.plugins as p

        @pytest.mark.heliograph_plugins("example_isignal")
        def test_messes_up():
            p.unload("example_custom_listener", "example_isignal")
            p.load("example_custom_sender")
            raise RuntimeError("and fails half-way")

        def test_sees_the_session_state():
            assert p.loaded_plugins() == ["example_custom_listener"]
        """,
    )
    result.assert_outcomes(passed=1, failed=1)


def test_signal_recorder_records_sends_and_asserts_on_them(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        import heliograph.plugins.toolkit as tk

        def test_recorder(signal_recorder):
            number = tk.signals.ckanext.signal("recorded_number")
            signal_recorder.record(number, tk.signals.failed_login)
            number.send(10, doubled=20, extra="x")
            number.send(5, doubled=10)
            assert [c.sender for c in signal_recorder.calls(number)] == [10, 5]
            assert signal_recorder.calls(number)[0].kwargs == {"doubled": 20, "extra": "x"}
            signal_recorder.assert_sent(number, 10, times=1, doubled=20)
            signal_recorder.assert_sent(number, times=2)
            signal_recorder.assert_sent(number, doubled=10)
            signal_recorder.assert_not_sent(number, 7)
            signal_recorder.assert_not_sent(tk.signals.failed_login)
            with pytest.raises(LookupError, match="not recorded"):
                signal_recorder.calls(tk.signals.request_started)

        def test_failure_lists_the_sends(signal_recorder):
            number = tk.signals.ckanext.signal("recorded_number")
            signal_recorder.record(number)
            number.send(5, doubled=10)
            signal_recorder.assert_sent(number, 10)

        def test_recorder_is_disconnected_after_the_test():
            assert not tk.signals.ckanext.signal("recorded_number").receivers
        """,
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: expected signal ckanext.recorded_number to be sent at least once"
            " with sender=10; it was, 0 time(s).",
            "*Recorded sends of ckanext.recorded_number:",
            "*1. send(5, doubled=10)",
        ]
    )


STRICT_SOURCE = """
import pytest
import heliograph.plugins as p
import heliograph.plugins.toolkit as tk

def raising(sender, **kwargs):
    raise RuntimeError("subscriber bug")

def mutating(sender, **kwargs):
    kwargs["user"]["name"] = "changed"

class Buggy(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self):
        return {tk.signals.failed_login: [raising], tk.signals.user_created: [mutating]}

@pytest.fixture(autouse=True)
def buggy(with_plugins):
    with_plugins.register("buggy", Buggy)
    with_plugins("buggy")

def test_raising_subscriber():
    tk.signals.failed_login.send("someone")

def test_mutating_subscriber():
    tk.signals.user_created.send("someone", user={"name": "someone"})
"""


def test_strict_mode_makes_a_failing_or_mutating_subscriber_fail_the_test(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, STRICT_SOURCE)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*RuntimeError: subscriber bug*"])
    result.stdout.fnmatch_lines(["*SignalArgumentMutated*modified the argument(s) user*"])


@pytest.mark.heliograph_strict(False)  # this process's own strict mode would leak into the run
def test_strict_mode_can_be_turned_off_by_marker_or_ini(pytester: pytest.Pytester) -> None:
    marked = STRICT_SOURCE.replace(
        "def test_raising", "@pytest.mark.heliograph_strict(False)\ndef test_raising"
    )
    run(pytester, marked).assert_outcomes(passed=1, failed=1)
    pytester.makeini("[pytest]\nheliograph_strict = false\n")
    run(pytester, STRICT_SOURCE).assert_outcomes(passed=2)


def test_the_outer_state_is_untouched_by_a_pytester_run(pytester: pytest.Pytester) -> None:
    run(
        pytester,
        """
        import heliograph.plugins as p
        def test_load():
            p.load("example_isignal")
        """,
    ).assert_outcomes(passed=1)
    assert p.loaded_plugins() == []
