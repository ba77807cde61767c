"""One account per e-mail address, enforced by the database (a unique index on
``lower(email)`` among users not deleted): registrations racing for one
address make one account, and every loser gets the validator's usual error."""

from __future__ import annotations

import threading
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from heliograph import logic, model
from heliograph.logic import schema
from heliograph.model import engine_for, migrate

RACERS = 10  # below the connection pool's size: every racer holds a connection at the barrier
TAKEN = "The email address '{}' belongs to a registered user."


def create(name: str, email: str) -> t.Any:
    return logic.get_action("user_create")(
        {"ignore_auth": True}, {"name": name, "email": email, "password": "correct-horse-9"}
    )


def race(monkeypatch: pytest.MonkeyPatch, work: t.Callable[[int], t.Any]) -> list[t.Any]:
    """Run ``work(i)`` in RACERS threads that all pass the e-mail validator
    before any of them writes; each result or exception, by thread."""
    barrier = threading.Barrier(RACERS, timeout=60)
    checked = schema.user_email_unique

    def check_then_wait(value: t.Any, state: t.Any) -> t.Any:
        result = checked(value, state)
        barrier.wait()
        return result

    monkeypatch.setattr(schema, "user_email_unique", check_then_wait)
    outcomes: list[t.Any] = [None] * RACERS

    def run(i: int) -> None:
        try:
            outcomes[i] = work(i)
        except Exception as exc:
            outcomes[i] = exc
        finally:
            model.Session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def emails(db: sa.Engine) -> list[str]:
    with db.connect() as conn:
        return sorted(conn.execute(sa.text('SELECT email FROM "user"')).scalars())


def test_registrations_racing_for_one_address_make_one_account(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same address in different cases: one mailbox, one account.
    cases = ("sun@example.org", "SUN@example.org", "Sun@Example.ORG")
    addresses = [cases[i % len(cases)] for i in range(RACERS)]
    outcomes = race(monkeypatch, lambda i: create(f"racer-{i}", addresses[i]))
    made = [o for o in outcomes if isinstance(o, dict)]
    lost = [o for o in outcomes if not isinstance(o, dict)]
    assert len(made) == 1, outcomes
    assert all(isinstance(o, logic.ValidationError) for o in lost), lost
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, logic.ValidationError):
            assert outcome.error_dict == {"email": [TAKEN.format(addresses[i])]}
    assert len(emails(db)) == 1


def test_a_user_update_losing_the_race_for_an_address_gets_the_same_error(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(RACERS):
        create(f"racer-{i}", f"racer-{i}@example.org")
    outcomes = race(
        monkeypatch,
        lambda i: logic.get_action("user_update")(
            {"ignore_auth": True}, {"id": f"racer-{i}", "email": "moon@example.org"}
        ),
    )
    assert sum(isinstance(o, dict) for o in outcomes) == 1, outcomes
    lost = [o for o in outcomes if not isinstance(o, dict)]
    assert all(
        isinstance(o, logic.ValidationError)
        and o.error_dict == {"email": [TAKEN.format("moon@example.org")]}
        for o in lost
    ), lost
    assert emails(db).count("moon@example.org") == 1


def test_the_database_refuses_a_second_account_for_an_address_but_not_after_a_delete(
    db: sa.Engine,
) -> None:
    create("alice", "alice@example.org")
    session = model.Session()
    session.add(model.User(name="mallory", email="ALICE@example.org"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    logic.get_action("user_delete")({"ignore_auth": True}, {"id": "alice"})
    assert create("alice2", "Alice@example.org")["email"] == "Alice@example.org"


def test_a_name_race_still_names_the_name(db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    create("alice", "alice@example.org")
    monkeypatch.setattr(schema, "user_name_unique", lambda value, state: value)
    with pytest.raises(logic.ValidationError) as caught:
        create("alice", "other@example.org")
    assert caught.value.error_dict == {"name": ["That login name is not available."]}


def test_the_migration_names_addresses_already_shared(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            for name, email in [("a", "x@example.org"), ("b", "X@example.org"), ("c", "y@ex.org")]:
                conn.execute(
                    sa.text(
                        'INSERT INTO "user" (id, name, email, created, state, sysadmin) '
                        "VALUES (:id, :name, :email, CURRENT_TIMESTAMP, 'active', false)"
                    ),
                    {"id": name, "name": name, "email": email},
                )
        with pytest.raises(RuntimeError, match=r"x@example\.org \(2 accounts\)"):
            migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0004"
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE \"user\" SET state = 'deleted' WHERE name = 'b'"))
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
