"""Deliveries end to end, to a real HTTP receiver on loopback: every signature
checked with ``standardwebhooks``, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import collections.abc as c
import datetime as dt
import json
import time
import typing as t

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import heliograph.plugins.toolkit as tk
from heliograph.events import Worker
from heliograph.ext.webhooks import delivery, settings
from heliograph.ext.webhooks.tables import webhook_attempt, webhook_backlog
from tests.ext.webhooks.webhook_helpers import Answer, Receiver, drain, mails, rows

Call = c.Callable[..., t.Any]


def hook(call: Call, receiver: Receiver, path: str = "/hook", user: str = "editor", **kw: t.Any):
    data = {"url": receiver.url(path), "topics": ["*"], **kw}
    return call("webhook_create", data, user=user)


def log_of(call: Call, hook_id: str, user: str = "editor") -> list[dict[str, t.Any]]:
    return list(reversed(call("webhook_delivery_list", {"id": hook_id}, user=user)))


def outbox_rows(db: sa.Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM event_outbox")).scalar() or 0)


def test_create_update_delete_arrive_signed_in_order(
    call: Call, org: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver, topics=["dataset/*"])
    pkg = call(
        "package_create",
        {"name": "sunspots", "title": "Sunspots", "owner_org": org["id"]},
        user="editor",
    )
    call("package_patch", {"id": "sunspots", "title": "Sunspot counts"}, user="editor")
    call("package_delete", {"id": "sunspots"}, user="editor")  # by name
    drain(worker)
    got = receiver.at()
    payloads = [r.verify(created["secret"]) for r in got]  # raises on a bad signature
    assert [p["type"] for p in payloads] == ["dataset/create", "dataset/update", "dataset/delete"]
    assert payloads[0]["data"]["name"] == "sunspots"
    assert payloads[1]["data"]["title"] == "Sunspot counts"
    assert payloads[2]["data"] == {"id": pkg["id"], "type": "dataset"}
    for request in got:
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["webhook-signature"].startswith("v1,")
        assert request.headers["content-type"] == "application/json"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert set(request.json) == {"type", "timestamp", "data"}
    assert len({r.headers["webhook-id"] for r in got}) == 3
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(got[0].body, got[0].headers)
    logged = log_of(call, created["id"])
    assert [(e["type"], e["status"], e["outcome"], e["attempt"]) for e in logged] == [
        ("dataset/create", 200, "delivered", 1),
        ("dataset/update", 200, "delivered", 1),
        ("dataset/delete", 200, "delivered", 1),
    ]
    assert logged[0]["webhook_id"] == got[0].headers["webhook-id"]
    assert logged[0]["response"] == "ok"
    assert logged[0]["duration_ms"] > 0


def test_a_private_dataset_reaches_only_hooks_whose_owner_sees_it(
    call: Call, private_dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    outsider = hook(call, receiver, "/outsider", user="outsider")
    member = hook(call, receiver, "/member", user="member")
    admin = hook(call, receiver, "/sysadmin", user="sysadmin")
    call("package_patch", {"id": "flares", "notes": "secret notes"}, user="editor")
    call("resource_create", {"package_id": "flares", "url": "http://x.org/a"}, user="editor")
    call("package_delete", {"id": "flares"}, user="editor")
    drain(worker)
    assert receiver.at("/outsider") == []
    assert log_of(call, outsider["id"], user="outsider") == []
    seen = [r.verify(member["secret"])["type"] for r in receiver.at("/member")]
    assert sorted(seen) == ["dataset/delete", "dataset/update", "dataset/update", "resource/create"]
    assert seen[-1] == "dataset/delete"  # after the updates of the dataset
    assert len(receiver.at("/sysadmin")) == 4
    assert all(r.verify(admin["secret"]) for r in receiver.at("/sysadmin"))
    # Made public: now the outsider's hook gets the dataset's events.
    call(
        "package_create", {"name": "open", "owner_org": private_dataset["owner_org"]}, user="editor"
    )
    drain(worker)
    assert [r.json["data"]["name"] for r in receiver.at("/outsider")] == ["open"]


def test_a_500_is_retried_and_logged_with_the_same_id(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    receiver.script("/hook", Answer(500, body=b"boom"))
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    first, second = receiver.at()
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verify(created["secret"])["type"] == "dataset/update"
    logged = log_of(call, created["id"])
    assert [(e["attempt"], e["status"], e["outcome"]) for e in logged] == [
        (1, 500, "retrying"),
        (2, 200, "delivered"),
    ]
    assert logged[0]["response"] == "boom"
    assert rows(worker.engine, webhook_backlog) == []
    assert call("webhook_show", {"id": created["id"]}, user="editor")["failing_since"] is None


def test_410_disables_the_hook_and_enabling_turns_it_back_on(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, webhook_config: t.Any
) -> None:
    created = hook(call, receiver)
    receiver.script("/hook", Answer(410))
    call("package_patch", {"id": "sunspots", "notes": "1"}, user="editor")
    drain(worker)
    shown = call("webhook_show", {"id": created["id"]}, user="editor")
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    assert [e["outcome"] for e in log_of(call, created["id"])] == ["disabled"]
    assert any("was disabled" in mail for mail in mails(webhook_config))
    call("package_patch", {"id": "sunspots", "notes": "2"}, user="editor")
    drain(worker)
    assert len(receiver.at()) == 1  # nothing more while disabled
    call("webhook_update", {"id": created["id"], "enabled": True}, user="editor")
    call("package_patch", {"id": "sunspots", "notes": "3"}, user="editor")
    drain(worker)
    assert [r.json["data"]["notes"] for r in receiver.at()] == ["1", "3"]


def test_a_slow_receiver_times_out_and_is_retried(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, webhook_config: t.Any
) -> None:
    webhook_config["heliograph.webhooks.timeout_seconds"] = "0.3"
    created = hook(call, receiver)
    receiver.script("/hook", Answer(200, delay=1.0))
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    logged = log_of(call, created["id"])
    assert [(e["status"], e["outcome"]) for e in logged] == [(None, "retrying"), (200, "delivered")]
    assert "Timed out after 0.3 seconds" in logged[0]["error"]


def test_a_redirect_is_a_failure_and_not_followed(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    receiver.script("/hook", Answer(302, headers={"Location": receiver.url("/elsewhere")}))
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    assert receiver.at("/elsewhere") == []
    logged = log_of(call, created["id"])
    assert [(e["status"], e["outcome"]) for e in logged] == [(302, "retrying"), (200, "delivered")]


def test_later_events_about_an_object_wait_behind_its_retry(
    call: Call,
    dataset: dict[str, t.Any],
    org: dict[str, t.Any],
    receiver: Receiver,
    worker: Worker,
    webhook_config: t.Any,
) -> None:
    webhook_config["heliograph.webhooks.retry_schedule"] = "0 3600"
    webhook_config["heliograph.webhooks.retry_scale"] = "1"
    created = hook(call, receiver, topics=["dataset/update", "dataset/create"])
    drain(worker)  # the fixtures' events
    receiver.script("/hook", Answer(503))
    call("package_patch", {"id": "sunspots", "notes": "1"}, user="editor")
    call("package_patch", {"id": "sunspots", "notes": "2"}, user="editor")
    call("package_create", {"name": "other", "owner_org": org["id"]}, user="editor")
    drain(worker)
    # "1" failed and waits an hour; "2" waits behind it; the other dataset goes on.
    assert [r.json["data"].get("notes") or r.json["data"]["name"] for r in receiver.at()] == [
        "1",
        "other",
    ]
    (pending,) = rows(worker.engine, webhook_backlog)
    assert (pending.object_key, pending.pending) == (dataset["id"], 2)
    with worker.engine.begin() as conn:  # the hour has passed
        conn.execute(sa.text("UPDATE event_delivery SET next_attempt_at = 0"))
    drain(worker)
    notes = [r.json["data"].get("notes") for r in receiver.at()]
    assert notes == ["1", None, "1", "2"]
    assert rows(worker.engine, webhook_backlog) == []
    assert [e["attempt"] for e in log_of(call, created["id"])] == [1, 1, 2, 1]


def test_failing_for_too_long_disables_and_mails_the_owner(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, webhook_config: t.Any
) -> None:
    webhook_config["heliograph.webhooks.disable_after_seconds"] = "0.5"
    webhook_config["heliograph.webhooks.retry_schedule"] = "0"
    created = hook(call, receiver)
    receiver.script("/hook", *[Answer(500)] * 5)
    call("package_patch", {"id": "sunspots", "notes": "1"}, user="editor")
    drain(worker)
    shown = call("webhook_show", {"id": created["id"]}, user="editor")
    assert shown["enabled"] is True and shown["failing_since"] is not None
    time.sleep(0.6)
    call("package_patch", {"id": "sunspots", "notes": "2"}, user="editor")
    drain(worker)
    shown = call("webhook_show", {"id": created["id"]}, user="editor")
    assert shown["enabled"] is False
    assert "failed" in shown["disabled_reason"]
    (mail,) = [m for m in mails(webhook_config) if "was disabled" in m]
    assert "To: editor@example.org" in mail
    assert receiver.url() in mail
    assert created["secret"] not in mail
    call("webhook_update", {"id": created["id"], "enabled": True}, user="editor")
    shown = call("webhook_show", {"id": created["id"]}, user="editor")
    assert shown["enabled"] is True and shown["failing_since"] is None


def test_during_a_rotation_both_signatures_are_sent(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    rotated = call("webhook_update", {"id": created["id"], "rotate_secret": True}, user="editor")
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    (request,) = receiver.at()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.verify(created["secret"]) == request.verify(rotated["secret"])


def test_loopback_is_refused_unless_the_configuration_allows_it(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, webhook_config: t.Any
) -> None:
    created = hook(call, receiver, url=f"http://localhost:{receiver.port}/hook")
    webhook_config["heliograph.webhooks.allowed_networks"] = ""
    webhook_config["heliograph.webhooks.retry_schedule"] = "0"
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    assert receiver.at() == []
    (entry,) = log_of(call, created["id"])
    assert entry["outcome"] == "failed"
    assert "Refused" in entry["error"] and "not allowed" in entry["error"]
    webhook_config["heliograph.webhooks.allowed_networks"] = "127.0.0.1/32"
    call("package_patch", {"id": "sunspots", "notes": "m"}, user="editor")
    drain(worker)
    assert len(receiver.at()) == 1


def test_deliveries_reuse_one_kept_alive_connection_until_a_response_is_cut(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    hook(call, receiver)
    for notes in ("a", "b", "c"):
        call("package_patch", {"id": "sunspots", "notes": notes}, user="editor")
        drain(worker)
    assert len({r.peer for r in receiver.at()}) == 1
    receiver.script("/hook", Answer(200, body=b"x" * 300_000))  # cut: that connection goes
    for notes in ("d", "e"):
        call("package_patch", {"id": "sunspots", "notes": notes}, user="editor")
        drain(worker)
    peers = [r.peer for r in receiver.at()]
    assert peers[3] == peers[0] and peers[4] != peers[0]


def test_a_receiver_that_is_not_listening_is_a_connection_failure_not_a_timeout(
    call: Call, dataset: dict[str, t.Any], worker: Worker, webhook_config: t.Any
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    webhook_config["heliograph.webhooks.retry_schedule"] = "0"
    created = call(
        "webhook_create",
        {"url": f"http://127.0.0.1:{port}/hook", "topics": ["dataset/update"]},
        user="editor",
    )
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    (entry,) = log_of(call, created["id"])
    assert entry["outcome"] == "failed" and entry["status"] is None
    assert entry["error"] == "Connection failed: Connection refused"


def test_429_honours_retry_after(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, webhook_config: t.Any
) -> None:
    webhook_config["heliograph.webhooks.retry_schedule"] = "0 0 0"
    webhook_config["heliograph.webhooks.retry_scale"] = "1"
    hook(call, receiver)
    receiver.script("/hook", Answer(500), Answer(429, headers={"Retry-After": "120"}))
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    before = time.time()
    drain(worker)
    assert len(receiver.at()) == 2  # the 429 waits two minutes
    with worker.engine.connect() as conn:
        (due,) = conn.execute(sa.text("SELECT next_attempt_at FROM event_delivery")).scalars()
    assert due >= before + 119


def test_the_response_read_stops_at_64_kb(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    receiver.script("/hook", Answer(200, body=b"x" * 300_000))
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    (entry,) = log_of(call, created["id"])
    assert entry["status"] == 200
    assert "cut at 65536 bytes" in entry["error"]
    assert len(entry["response"]) <= 1000


def test_filters_by_organization_dataset_and_resource(
    call: Call,
    dataset: dict[str, t.Any],
    org: dict[str, t.Any],
    receiver: Receiver,
    worker: Worker,
) -> None:
    other_org = call("organization_create", {"name": "moon-watchers"}, user="admin")
    call(
        "member_create",
        {"id": other_org["id"], "object": "editor", "object_type": "user", "capacity": "editor"},
        user="admin",
    )
    res_id = dataset["resources"][0]["id"]
    hook(call, receiver, "/org", organization="sun-watchers")
    hook(call, receiver, "/ds", dataset="sunspots", topics=["resource/*"])
    hook(call, receiver, "/res", resource=res_id)
    call("package_create", {"name": "moon", "owner_org": other_org["id"]}, user="editor")
    call("resource_patch", {"id": res_id, "name": "Counts v2"}, user="editor")
    call("resource_create", {"package_id": "sunspots", "url": "http://x.org/b"}, user="editor")
    drain(worker)
    assert {r.json["type"] for r in receiver.at("/org")} == {
        "dataset/update",
        "resource/update",
        "resource/create",
    }
    assert all(r.json["data"].get("name") != "moon" for r in receiver.at("/org"))
    assert [r.json["type"] for r in receiver.at("/ds")] == ["resource/update", "resource/create"]
    assert [r.json["type"] for r in receiver.at("/res")] == ["resource/update"]


def test_resource_delete_and_datastore_upsert(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    hook(call, receiver, topics=["resource/delete", "datastore/upsert"])
    res_id = dataset["resources"][0]["id"]
    tk.signals.datastore_upsert.send(res_id, records=[{"a": i} for i in range(150)])
    call("resource_delete", {"id": res_id}, user="editor")
    drain(worker)
    upsert, deleted = (r.json for r in receiver.at())
    assert upsert["type"] == "datastore/upsert"
    assert upsert["data"]["resource_id"] == res_id
    assert upsert["data"]["record_count"] == 150
    assert len(upsert["data"]["records"]) == delivery.MAX_RECORDS
    assert deleted == {
        **deleted,
        "type": "resource/delete",
        "data": {"id": res_id, "type": "resource"},
    }


def test_ping_log_and_redelivery_with_the_same_id(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    pinged = call("webhook_test", {"id": created["id"]}, user="editor")
    assert pinged["status"] == 200 and pinged["outcome"] == "delivered"
    (ping,) = receiver.at()
    assert ping.verify(created["secret"])["type"] == "webhook/test"
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    original = receiver.at()[-1]
    answer = call(
        "webhook_redeliver",
        {"id": created["id"], "message_id": original.headers["webhook-id"]},
        user="editor",
    )
    assert answer["message_id"] == original.headers["webhook-id"]
    drain(worker)
    again = receiver.at()[-1]
    assert again.headers["webhook-id"] == original.headers["webhook-id"]
    assert again.body == original.body
    assert again.verify(created["secret"])
    assert [e["attempt"] for e in log_of(call, created["id"])] == [1, 1, 2]
    with pytest.raises(tk.ValidationError) as caught:
        call("webhook_redeliver", {"id": created["id"], "message_id": "msg_nope"}, user="editor")
    assert "message_id" in caught.value.error_dict


def test_a_request_with_many_hooks_writes_one_outbox_row(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker, db: sa.Engine
) -> None:
    for n in range(20):
        hook(call, receiver, f"/h{n}")
    drain(worker)
    before = outbox_rows(db)
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    assert outbox_rows(db) == before + 1
    assert receiver.requests == []  # nothing is sent in the request
    drain(worker)
    assert len(receiver.requests) == 20
    with db.connect() as conn:
        attempts = conn.execute(sa.select(sa.func.count()).select_from(webhook_attempt)).scalar()
    assert attempts == 20


def test_the_default_schedule_is_the_specifications() -> None:
    assert settings.Settings().delays() == (
        0,
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        50400,
        72000,
        86400,
    )
    assert settings.parse({"retry_scale": "0.001"}).delays()[-1] == pytest.approx(86.4)
    with pytest.raises(tk.ConfigError) as caught:
        settings.parse({"retry_schedule": "5 soon"})
    assert "heliograph.webhooks.retry_schedule" in str(caught.value)


def test_a_deleted_owner_s_hooks_get_nothing(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    hook(call, receiver, user="outsider")
    call("package_patch", {"id": "sunspots", "notes": "m"}, user="editor")
    drain(worker)  # the hooks are in the worker's memory now
    assert len(receiver.at()) == 1
    call("user_delete", {"id": "outsider"}, user="sysadmin")
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    assert len(receiver.at()) == 1


def test_the_log_is_kept_for_log_days(
    call: Call, dataset: dict[str, t.Any], receiver: Receiver, worker: Worker
) -> None:
    created = hook(call, receiver)
    call("package_patch", {"id": "sunspots", "notes": "n"}, user="editor")
    drain(worker)
    assert len(log_of(call, created["id"])) == 1
    assert delivery.prune(worker.engine, settings.parse({"log_days": "1"})) == 0
    with worker.engine.begin() as conn:  # two days pass
        conn.execute(sa.text("UPDATE webhook_attempt SET at = at - 172800"))
        conn.execute(sa.text("UPDATE webhook_message SET created = created - 172800"))
    assert delivery.prune(worker.engine, settings.parse({"log_days": "1"})) == 2
    assert log_of(call, created["id"]) == []


_BODY_DOCUMENT: dict[str, t.Any] = {
    "type": "dataset/update",
    "timestamp": "2026-12-04T10:00:00Z",
    "data": {
        "name": "sunspots",
        "title": "Sonnenflecken: Zählungen",
        "tags": [{"name": "astronomy"}, {"name": "sun"}],
        "num_resources": 2,
        "private": False,
        "license_id": None,
        "ratio": 0.25,
    },
}


def test_a_message_body_is_compact_json_with_non_ascii_characters_as_themselves() -> None:
    body = delivery.message_body(_BODY_DOCUMENT)
    assert json.loads(body) == _BODY_DOCUMENT
    assert ", " not in body and '": ' not in body
    assert "Zählungen" in body and "\\u" not in body


@pytest.mark.skipif(delivery.orjson is None, reason="orjson (the 'fast' extra) is not installed")
def test_a_message_body_is_the_same_text_with_orjson_and_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    document = {
        **_BODY_DOCUMENT,
        "when": dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC),
        "odd": Odd(),
    }
    fast = delivery.message_body(document)
    big = delivery.message_body({"count": 2**70})  # past orjson's 64 bits: json writes it
    monkeypatch.setattr(delivery, "orjson", None)
    assert delivery.message_body(document) == fast
    assert '"when":"2026-12-04 10:00:00+00:00"' in fast and '"odd":"odd"' in fast
    assert big == delivery.message_body({"count": 2**70}) == '{"count":1180591620717411303424}'
