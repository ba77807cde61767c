"""Fixtures shared by the whole suite: databases and services.

Services (PostgreSQL, Redis, ...) are used for real. When one is unreachable
its tests skip with the reason, unless HELIOGRAPH_REQUIRE_SERVICES=1 (CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import collections.abc as c
import importlib.util
import os
import sys
import typing as t
import uuid
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from heliograph import logic
from tests.helpers import require_service

POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_engine() -> c.Iterator[sa.Engine]:
    """An engine on a schema of its own, dropped at the end."""
    from heliograph.model import engine_for

    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"heliograph_test_{uuid.uuid4().hex[:12]}"
    admin = engine_for(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(engine_for(POSTGRES_URL).url).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> c.Iterator[sa.Engine]:
    """A migrated database engine, once per session and per engine kind."""
    from heliograph.model import engine_for, migrate

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "heliograph.db"
        engine = engine_for(f"sqlite:///{path}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    for engine in _postgres_engine():
        migrate.upgrade(engine)
        yield engine


@pytest.fixture
def db(db_engine: sa.Engine) -> c.Iterator[sa.Engine]:
    """An empty migrated database bound to ``model.Session`` for one test."""
    from heliograph import model

    model.init_engine(db_engine)
    yield db_engine
    model.Session.remove()
    with db_engine.begin() as conn:
        for table in reversed(model.Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def production_switches() -> c.Iterator[None]:
    """The production dispatch switches (failures isolated, argument guard off),
    whatever a plugin or an earlier test set; put back as they were afterwards."""
    from heliograph import signals

    before = signals.settings()
    signals.isolate_failures(True)
    signals.guard_arguments(False)
    yield
    signals.isolate_failures(before["isolate_failures"])
    signals.guard_arguments(before["guard_arguments"])


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> c.Iterator[ModuleType]:
    """The ``bench/`` script the test module names in ``BENCH`` (``"portal.py"``),
    loaded as a module for that test module and unloaded afterwards."""
    path = Path(__file__).resolve().parents[1] / "bench" / request.module.BENCH
    spec = importlib.util.spec_from_file_location(f"heliograph_bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


Call = c.Callable[..., t.Any]


@pytest.fixture
def call(db: sa.Engine) -> Call:
    """Run an action as ``user`` (a name, or None for anonymous)."""
    from heliograph import logic, model

    def run(name: str, data: dict[str, t.Any] | None = None, **kw: t.Any) -> t.Any:
        user = kw.pop("user", None)
        context = {"user": user, "session": model.Session, **kw.pop("context", {})}
        return logic.get_action(name)(context, data if data is not None else {})

    return run


@pytest.fixture
def people(db: sa.Engine) -> dict[str, t.Any]:
    """A sysadmin, users who hold roles in an ``org`` fixture, and an outsider
    (users created without passwords, since hashing is slow)."""
    from heliograph import model
    from heliograph.logic import users

    session = model.Session()
    made = {
        name: users.create_user(
            session,
            name=name,
            email=f"{name}@example.org",
            password=None,  # hashing is slow; tests/logic/test_users.py checks passwords
            sysadmin=name == "sysadmin",
        )
        for name in ("sysadmin", "admin", "editor", "member", "outsider")
    }
    session.commit()
    return made


@pytest.fixture
def org(call: Call, people: dict[str, t.Any]) -> dict[str, t.Any]:
    """Organization ``sun-watchers``: admin (its creator), editor, member."""
    created = call(
        "organization_create", {"name": "sun-watchers", "title": "Sun Watchers"}, user="admin"
    )
    for name in ("editor", "member"):
        call(
            "member_create",
            {"id": created["id"], "object": name, "object_type": "user", "capacity": name},
            user="admin",
        )
    return t.cast(dict[str, t.Any], created)


@pytest.fixture
def make_dataset(call: Call, org: dict[str, t.Any]) -> c.Callable[..., dict[str, t.Any]]:
    """``make_dataset(**fields)`` creates, as ``editor``, a dataset of ``org``
    with ``fields`` (``owner_org`` may be overridden too) and returns it."""

    def make(**fields: t.Any) -> dict[str, t.Any]:
        return t.cast(
            dict[str, t.Any],
            call("package_create", {"owner_org": org["id"], **fields}, user="editor"),
        )

    return make


@pytest.fixture
def dataset(make_dataset: c.Callable[..., dict[str, t.Any]]) -> dict[str, t.Any]:
    """A public dataset of ``org`` with one resource and a tag."""
    return make_dataset(
        name="sunspots",
        title="Sunspot counts",
        notes="Daily sunspot numbers",
        tags=[{"name": "sun"}],
        resources=[{"url": "http://example.org/s.csv", "name": "Counts"}],
    )


@pytest.fixture
def private_dataset(make_dataset: c.Callable[..., dict[str, t.Any]]) -> dict[str, t.Any]:
    """A private dataset of ``org`` with one resource."""
    return make_dataset(
        name="flares", private=True, resources=[{"url": "http://example.org/f.csv"}]
    )


@pytest.fixture
def core_actions() -> None:
    """Skip unless the core actions (heliograph.logic.action.*) are there."""
    try:
        available = "package_create" in logic.registry.actions()
    except ImportError as exc:
        available = False
        reason = f"the core actions have not landed yet ({exc})"
    else:
        reason = "the core actions have no package_create yet"
    if not available:
        pytest.skip(reason)
