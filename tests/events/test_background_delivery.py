"""Background receivers on the embedded outbox, on SQLite and PostgreSQL:
written in the sender's transaction, delivered after the commit by a worker,
at least once, retried, in order per object."""

from __future__ import annotations

import collections.abc as c
import time
import typing as t

import pytest
import sqlalchemy as sa

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from heliograph import events, model
from heliograph.events import Worker
from tests.events import background_samples as samples

Call = c.Callable[..., t.Any]


@pytest.fixture
def delivery(db: sa.Engine) -> c.Iterator[Worker]:
    """Fast retries for the test; a worker on the test database."""
    samples.RECEIVED.clear()
    samples.FAIL.clear()
    before = events.EventSettings(**vars(events.settings))
    events.settings.retry_base_seconds = 0.0
    events.settings.retry_max_seconds = 0.0
    events.settings.max_attempts = 3
    yield Worker(db)
    for name, value in vars(before).items():
        setattr(events.settings, name, value)


def plugin(name: str, cls: type[p.Plugin]) -> t.Any:
    p.register(name, cls, replace=True)
    return p.use_plugin(name)


def rows(db: sa.Engine, table: str) -> list[t.Any]:
    with db.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")))


def received(name: str = "record") -> list[dict[str, t.Any]]:
    return [r for r in samples.RECEIVED if r["receiver"] == name]


def test_background_receiver_runs_in_the_worker_after_the_commit_with_the_wire_form(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    with plugin("bg_updates", samples.Updates):
        call("package_patch", {"id": dataset["id"], "title": "New title"}, user="editor")
        assert received() == []  # not called in the request
        assert len(rows(db, "event_delivery")) == 2  # one per receiver
        assert delivery.drain() == 2
    (got,) = received()
    assert got["sender"] == "package_update"
    kwargs = got["kwargs"]
    assert kwargs["action"] == "package_update"
    assert kwargs["result"]["title"] == "New title"
    assert kwargs["data_dict"]["title"] == "New title"
    editor_id = model.Session.scalar(sa.select(model.User.id).where(model.User.name == "editor"))
    assert kwargs["context"] == {"user": "editor", "user_id": editor_id}
    event = got["event"]
    assert event.signal == "ckan.action_succeeded"
    assert event.sender == "package_update"
    assert event.key == dataset["id"]
    assert event.attempt == 1
    assert abs(event.sent_at - time.time()) < 60
    assert len(event.event_id) == 36
    assert rows(db, "event_delivery") == []


def test_a_rolled_back_change_leaves_no_event(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    with plugin("bg_updates", samples.Updates):
        with pytest.raises(tk.ValidationError):
            call(
                "package_update", {"id": dataset["id"], "name": "Not A Valid Name!"}, user="editor"
            )

        def outer(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> None:
            tk.get_action("package_patch")(context, {"id": dataset["id"], "title": "x"})
            raise tk.ValidationError({"outer": ["fails after the nested call"]})

        from heliograph import logic

        with pytest.raises(tk.ValidationError):
            logic._wrap("outer_action", outer)({"user": "editor"}, {})
        assert rows(db, "event_outbox") == []
        assert rows(db, "event_delivery") == []
        assert delivery.drain() == 0
    assert received() == []


def test_a_veto_by_another_receiver_leaves_no_event(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    def veto(sender: t.Any, **kwargs: t.Any) -> None:
        raise tk.ValidationError({"veto": ["no"]})

    with (
        plugin("bg_updates", samples.Updates),
        tk.signals.action_succeeded.connected_to(veto, sender="package_update"),
        pytest.raises(tk.ValidationError),
    ):
        call("package_patch", {"id": dataset["id"], "title": "x"}, user="editor")
    assert rows(db, "event_outbox") == []


def test_signals_outside_an_action_are_committed_before_send_returns(
    db: sa.Engine, delivery: Worker
) -> None:
    with plugin("bg_everything", samples.Everything):
        tk.signals.failed_login.send("somebody")
        # visible from another connection at once: committed
        (row,) = rows(db, "event_outbox")
        assert row.signal == "ckan.failed_login"
        delivery.drain()
    (got,) = received()
    assert got["sender"] == "somebody"
    assert got["event"].signal == "ckan.failed_login"


def test_user_signals_carry_only_the_user_id_and_name(
    db: sa.Engine, delivery: Worker, people: dict[str, t.Any]
) -> None:
    user = people["editor"]
    with plugin("bg_everything", samples.Everything):
        tk.signals.user_logged_in.send(object(), user=user)
        delivery.drain()
    (got,) = received()
    assert got["kwargs"] == {"user": {"id": user.id, "name": "editor"}}
    assert got["event"].key == user.id


def test_secrets_are_redacted_from_the_wire_form(
    call: Call, db: sa.Engine, delivery: Worker, people: dict[str, t.Any]
) -> None:
    with plugin("bg_everything", samples.Everything):
        call(
            "user_create",
            {"name": "newbie", "email": "n@example.org", "password": "correct horse battery"},
            user="sysadmin",
        )
        token = call("api_token_create", {"user": "newbie", "name": "t"}, user="sysadmin")
        delivery.drain()
    by_action = {r["kwargs"]["action"]: r["kwargs"] for r in received()}
    assert by_action["user_create"]["data_dict"]["password"] == "[redacted]"
    assert "correct horse" not in repr(by_action)
    assert token["token"] not in repr(by_action)
    assert by_action["api_token_create"]["result"]["token"] == "[redacted]"


def test_an_extension_signal_with_json_arguments_is_delivered(
    db: sa.Engine, delivery: Worker
) -> None:
    with plugin("bg_everything", samples.Everything):
        samples.custom.send("my-sender", answer=42, items=[1, "two"])
        delivery.drain()
    (got,) = received()
    assert got["sender"] == "my-sender"
    assert got["kwargs"] == {"answer": 42, "items": [1, "two"]}
    assert got["event"].signal == "ckanext.test_events_custom"


def test_a_send_that_cannot_be_serialised_fails_naming_the_signal_and_argument(
    db: sa.Engine, delivery: Worker
) -> None:
    with plugin("bg_everything", samples.Everything), pytest.raises(events.OutboxError) as info:
        samples.custom.send("my-sender", when=object())
    message = str(info.value)
    assert "ckanext.test_events_custom" in message
    assert "argument 'when'" in message
    assert rows(db, "event_outbox") == []


def test_an_action_whose_event_cannot_be_written_fails_and_commits_nothing(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    def sends_bad_custom(sender: t.Any, **kwargs: t.Any) -> None:
        samples.custom.send("x", thing={1, 2})

    with (
        plugin("bg_everything", samples.Everything),
        tk.signals.action_succeeded.connected_to(sends_bad_custom, sender="package_update"),
        pytest.raises(events.OutboxError, match="test_events_custom"),
    ):
        call("package_patch", {"id": dataset["id"], "title": "Lost?"}, user="editor")
    assert call("package_show", {"id": dataset["id"]})["title"] == "Sunspot counts"
    assert rows(db, "event_outbox") == []


def test_a_failing_receiver_is_retried_with_the_same_event_id_and_a_higher_attempt(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    samples.FAIL[dataset["id"]] = 2
    with plugin("bg_updates", samples.Updates):
        call("package_patch", {"id": dataset["id"], "title": "Retry me"}, user="editor")
        delivery.drain()
    (got,) = received("flaky")
    assert got["event"].attempt == 3
    assert got["event"].event_id == received()[0]["event"].event_id
    assert rows(db, "event_delivery") == []


def test_after_the_last_attempt_the_delivery_is_dead_and_others_are_not_blocked(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    with plugin("bg_failing", samples.Failing):
        call("package_patch", {"id": dataset["id"], "title": "One"}, user="editor")
        call("package_patch", {"id": dataset["id"], "title": "Two"}, user="editor")
        delivery.drain()
    assert [r["kwargs"]["result"]["title"] for r in received("other")] == ["One", "Two"]
    dead = [r for r in rows(db, "event_delivery") if r.state == "dead"]
    assert len(dead) == 2
    assert all(r.attempts == 3 and "always fails" in r.last_error for r in dead)


def test_events_about_one_object_wait_behind_its_retry_while_other_objects_go_on(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    other = call(
        "package_create",
        {"name": "moonspots", "owner_org": dataset["owner_org"]},
        user="editor",
    )
    samples.FAIL[dataset["id"]] = 1
    events.settings.retry_base_seconds = 3600.0
    events.settings.retry_max_seconds = 3600.0
    with plugin("bg_updates", samples.Updates):
        for n in range(3):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
            call("package_patch", {"id": other["id"], "title": f"moon {n}"}, user="editor")
        delivery.drain()
        titles = [r["kwargs"]["result"]["title"] for r in received("flaky")]
        assert titles == ["moon 0", "moon 1", "moon 2"]  # sun waits behind its retry
        with db.begin() as conn:  # the retry is due now
            conn.execute(sa.text("UPDATE event_delivery SET next_attempt_at = 0"))
        delivery.drain()
    titles = [r["kwargs"]["result"]["title"] for r in received("flaky")]
    assert titles[3:] == ["sun 0", "sun 1", "sun 2"]
    assert [r["kwargs"]["result"]["title"] for r in received("record")] == [
        "sun 0",
        "moon 0",
        "sun 1",
        "moon 1",
        "sun 2",
        "moon 2",
    ]


def test_a_lanes_due_deliveries_are_claimed_together_and_delivered_in_order(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    with plugin("bg_updates", samples.Updates):
        for n in range(3):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
        claimed = delivery._claim(100)  # one transaction for the whole lane
        assert [(item.receiver.rsplit(":", 1)[1], item.attempts) for item in claimed] == [
            ("record", 1),
            ("flaky", 1),
        ] * 3
        assert [item.id for item in claimed] == sorted(item.id for item in claimed)
        assert delivery._claim(100) == []  # a second worker finds the lanes taken
        with db.begin() as conn:  # as if the claim's worker had died
            conn.execute(sa.text("UPDATE event_delivery SET lease_until = 0"))
        assert delivery.drain() == 6
    titles = [r["kwargs"]["result"]["title"] for r in received("flaky")]
    assert titles == ["sun 0", "sun 1", "sun 2"]
    assert {r["event"].attempt for r in samples.RECEIVED} == {2}
    assert rows(db, "event_delivery") == []


def test_a_failure_leaves_the_rest_of_its_lane_unattempted_behind_the_retry(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    samples.FAIL[dataset["id"]] = 1
    events.settings.retry_base_seconds = 3600.0
    events.settings.retry_max_seconds = 3600.0
    with plugin("bg_updates", samples.Updates):
        for n in range(3):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
        assert delivery.run_once() == 4  # three to record, the first to flaky
        assert received("flaky") == []
        waiting = [r for r in rows(db, "event_delivery")]
        assert [(r.state, r.attempts, r.leased_by) for r in waiting] == [
            ("pending", 1, None),
            ("pending", 0, None),
            ("pending", 0, None),
        ]
        assert waiting[0].next_attempt_at > time.time() + 1000
        assert "flaky fails" in waiting[0].last_error
        assert delivery.drain() == 0  # the lane waits for its retry
        with db.begin() as conn:
            conn.execute(sa.text("UPDATE event_delivery SET next_attempt_at = 0"))
        assert delivery.drain() == 3
    flaky = received("flaky")
    assert [r["kwargs"]["result"]["title"] for r in flaky] == ["sun 0", "sun 1", "sun 2"]
    assert [r["event"].attempt for r in flaky] == [2, 1, 1]


def test_a_batch_past_half_its_lease_gives_the_rest_back_unattempted(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    events.settings.lease_seconds = 0.0  # every batch is late after its first delivery
    with plugin("bg_updates", samples.Updates):
        for n in range(2):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
        assert delivery.run_once() == 1
        assert [(r.state, r.attempts) for r in rows(db, "event_delivery")] == [("pending", 0)] * 3
        assert delivery.drain() == 3
    assert [r["receiver"] for r in samples.RECEIVED] == ["record", "flaky", "record", "flaky"]
    assert {r["event"].attempt for r in samples.RECEIVED} == {1}


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_on_sqlite_only_the_workers_own_commits_skip_the_disk_sync(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    """A claim or settlement lost to a power cut is only delivered again; the
    portal's commits (the events among them) still wait for the disk."""
    seen: list[int] = []

    def during(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        if statement.startswith(("UPDATE event_delivery", "DELETE FROM event_delivery")):
            seen.append(
                conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0]
            )

    def synchronous() -> int:
        with db.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())

    full = synchronous()
    assert full == 2  # FULL, SQLite's default
    sa.event.listen(db, "before_cursor_execute", during)
    try:
        with plugin("bg_updates", samples.Updates):
            call("package_patch", {"id": dataset["id"], "title": "synced"}, user="editor")
            assert delivery.drain() == 2
    finally:
        sa.event.remove(db, "before_cursor_execute", during)
    assert seen and set(seen) == {1}  # NORMAL: claims and settlements
    assert synchronous() == full  # the pool's connections as they were
    assert len(received()) == 1


@pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True)
def test_a_worker_skipping_rows_another_holds_claims_nothing_after_them_in_their_lane(
    call: Call,
    dataset: dict[str, t.Any],
    make_dataset: c.Callable[..., dict[str, t.Any]],
    delivery: Worker,
    db: sa.Engine,
) -> None:
    """PostgreSQL workers claim with SKIP LOCKED: a row another worker is
    claiming is skipped, and so is the rest of its lane after it."""
    other = make_dataset(name="moonspots", title="Moon")
    with plugin("bg_updates", samples.Updates):
        for n in range(3):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
        call("package_patch", {"id": other["id"], "title": "moon"}, user="editor")
        everything = rows(db, "event_delivery")
        sun = [r for r in everything if r.lane == dataset["id"]]
        sun_record = [r.id for r in sun if r.receiver.endswith(":record")]
        sun_flaky = [r.id for r in sun if r.receiver.endswith(":flaky")]
        moon = [r.id for r in everything if r.lane == other["id"]]
        with db.connect() as holder:  # another worker, mid-claim
            holder.execute(
                sa.text("SELECT id FROM event_delivery WHERE id IN (:a, :b) FOR UPDATE"),
                {"a": sun_record[0], "b": sun_flaky[1]},
            )
            claimed = {item.id for item in Worker(db, name="second")._claim(100)}
            holder.rollback()
    assert claimed == {sun_flaky[0], *moon}


def test_a_worker_that_died_mid_delivery_loses_nothing_after_the_lease(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    events.settings.lease_seconds = 0.2
    with plugin("bg_updates", samples.Updates):
        call("package_patch", {"id": dataset["id"], "title": "Leased"}, user="editor")
        claimed = Worker(db, name="doomed")._claim(10)  # claims, then "dies"
        assert len(claimed) == 2
        assert delivery.drain() == 0  # leased to the dead worker
        time.sleep(0.3)
        assert delivery.drain() == 2
    (got,) = received()
    assert got["event"].attempt == 2


def test_unloading_the_plugin_stops_writing_events(
    call: Call, dataset: dict[str, t.Any], delivery: Worker, db: sa.Engine
) -> None:
    with plugin("bg_updates", samples.Updates):
        forwarders = [
            info
            for info in tk.signals.action_succeeded.receiver_info()
            if "heliograph.events" in info.owners
        ]
        assert len(forwarders) == 1
    assert not any(
        "heliograph.events" in info.owners for info in tk.signals.action_succeeded.receiver_info()
    )
    call("package_patch", {"id": dataset["id"], "title": "unheard"}, user="editor")
    assert rows(db, "event_outbox") == []


def test_jobs_run_in_the_worker_and_the_job_actions_see_them(
    call: Call, delivery: Worker, db: sa.Engine, people: dict[str, t.Any], tmp_path: t.Any
) -> None:
    out = tmp_path / "job.txt"
    job = tk.enqueue_job(samples.append_line, [str(out), "hello"], title="Say hello", queue="q1")
    tk.enqueue_job(samples.append_line, [str(out), "bye"], queue="q2")
    listed = call("job_list", {}, user="sysadmin")
    assert [j["title"] for j in listed] == ["Say hello", None]
    assert [j["id"] for j in call("job_list", {"queues": ["q1"]}, user="sysadmin")] == [job["id"]]
    shown = call("job_show", {"id": job["id"]}, user="sysadmin")
    assert shown["queue"] == "q1" and shown["title"] == "Say hello"
    with pytest.raises(tk.NotAuthorized):
        call("job_list", {}, user="editor")
    assert call("job_clear", {"queues": ["q2"]}, user="sysadmin") == ["q2"]
    delivery.drain()
    assert out.read_text() == "hello\n"
    assert call("job_list", {}, user="sysadmin") == []
    with pytest.raises(tk.ObjectNotFound):
        call("job_show", {"id": job["id"]}, user="sysadmin")


def test_a_job_enqueued_inside_a_failed_action_never_runs(
    call: Call, delivery: Worker, db: sa.Engine, people: dict[str, t.Any], tmp_path: t.Any
) -> None:
    out = tmp_path / "job.txt"

    def enqueues_then_fails(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> None:
        tk.enqueue_job(samples.append_line, [str(out), "never"])
        raise tk.ValidationError({"x": ["fails"]})

    from heliograph import logic

    with pytest.raises(tk.ValidationError):
        logic._wrap("enqueuing", enqueues_then_fails)({"user": None}, {})
    assert delivery.drain() == 0
    assert not out.exists()


def test_job_cancel_removes_a_pending_job(
    call: Call, delivery: Worker, people: dict[str, t.Any], tmp_path: t.Any
) -> None:
    job = tk.enqueue_job(samples.append_line, [str(tmp_path / "x"), "x"])
    call("job_cancel", {"id": job["id"]}, user="sysadmin")
    with pytest.raises(tk.ObjectNotFound):
        call("job_cancel", {"id": job["id"]}, user="sysadmin")
    assert delivery.drain() == 0


def test_enqueue_job_refuses_what_a_worker_cannot_import_or_serialise(db: sa.Engine) -> None:
    with pytest.raises(tk.JobError, match="dotted path"):
        tk.enqueue_job(lambda: None)
    with pytest.raises(tk.JobError, match="cannot be sent to background receivers as JSON"):
        tk.enqueue_job(samples.append_line, [object()])


def _due_now(db: sa.Engine) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE event_delivery SET next_attempt_at = 0"))


def _next_attempts(db: sa.Engine) -> list[float]:
    with db.connect() as conn:
        return [
            row.next_attempt_at - time.time()
            for row in conn.execute(sa.text("SELECT next_attempt_at FROM event_delivery"))
        ]


def test_jobs_with_one_key_run_in_order_behind_a_retry_with_their_own_schedule(
    db: sa.Engine, delivery: Worker
) -> None:
    samples.JOB_CALLS.clear()
    samples.JOB_FAILS.clear()
    samples.JOB_FAILS["a1"] = 1
    for name in ("a1", "a2"):
        tk.enqueue_job(samples.keyed_job, [name], key="hook-1", retry=[30, 30])
    tk.enqueue_job(samples.keyed_job, ["b1"], key="hook-2", retry=[30, 30])
    delivery.drain()
    assert samples.JOB_CALLS == [("b1", 1)]  # a2 waits behind a1's retry
    (wait,) = [w for w in _next_attempts(db) if w > 1]
    assert 25 < wait <= 30  # the job's own schedule, not the default backoff
    _due_now(db)
    delivery.drain()
    assert samples.JOB_CALLS == [("b1", 1), ("a1", 2), ("a2", 1)]


def test_a_job_past_its_schedule_is_dead(db: sa.Engine, delivery: Worker) -> None:
    samples.JOB_FAILS.clear()
    samples.JOB_FAILS["c"] = 5
    tk.enqueue_job(samples.keyed_job, ["c"], retry=[0])
    delivery.drain()
    (row,) = rows(db, "event_delivery")
    assert (row.state, row.attempts) == ("dead", 2)


def test_retry_later_waits_at_least_as_long_as_asked(db: sa.Engine, delivery: Worker) -> None:
    samples.JOB_FAILS.clear()
    samples.JOB_FAILS["later"] = 1
    tk.enqueue_job(samples.keyed_job, ["later"], retry=[0, 0])
    delivery.drain()
    (wait,) = _next_attempts(db)
    assert 55 < wait <= 60


def test_enqueue_job_refuses_a_bad_key_or_schedule(db: sa.Engine) -> None:
    with pytest.raises(tk.JobError, match="key must be"):
        tk.enqueue_job(samples.keyed_job, ["x"], key="")
    with pytest.raises(tk.JobError, match="retry must be"):
        tk.enqueue_job(samples.keyed_job, ["x"], retry=[-1])
