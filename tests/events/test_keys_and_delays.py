"""Ordering keys of the actions' events, and jobs held back by ``delay``."""

from __future__ import annotations

import collections.abc as c
import time
import typing as t

import sqlalchemy as sa

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from heliograph.events import Worker
from tests.events import background_samples as samples

Call = c.Callable[..., t.Any]


def test_package_delete_by_name_is_keyed_by_the_dataset_id_and_resource_delete_by_its_id(
    call: Call, dataset: dict[str, t.Any], db: sa.Engine
) -> None:
    samples.RECEIVED.clear()
    p.register("bg_everything", samples.Everything, replace=True)
    res_id = dataset["resources"][0]["id"]
    with p.use_plugin("bg_everything"):
        call("resource_delete", {"id": res_id}, user="editor")
        call("package_delete", {"id": "sunspots"}, user="editor")
        Worker(db).drain()
    keys = {(r["sender"], r["event"].key) for r in samples.RECEIVED}
    assert ("package_delete", dataset["id"]) in keys
    assert ("resource_delete", res_id) in keys
    assert ("package_update", dataset["id"]) in keys


def test_a_delayed_job_waits_before_its_first_run(db: sa.Engine) -> None:
    samples.JOB_CALLS.clear()
    before = time.time()
    tk.enqueue_job(samples.keyed_job, ["later-first"], delay=300)
    assert Worker(db).drain() == 0
    assert samples.JOB_CALLS == []
    with db.connect() as conn:
        (due,) = conn.execute(sa.text("SELECT next_attempt_at FROM event_delivery")).scalars()
    assert due >= before + 300
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE event_delivery SET next_attempt_at = 0"))
    assert Worker(db).drain() == 1
    assert samples.JOB_CALLS == [("later-first", 1)]


def test_a_negative_delay_is_refused(db: sa.Engine) -> None:
    import pytest

    with pytest.raises(tk.JobError) as caught:
        tk.enqueue_job(samples.keyed_job, ["x"], delay=-1)
    assert "delay" in str(caught.value)
