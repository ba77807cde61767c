"""Resource files over HTTP: multipart uploads through resource_create and
resource_update (as ckanapi sends them), the download route, and the
resource_download signal - sent once, with the resource id, just before an
uploaded file goes out; never for a redirect, a refusal or a missing thing."""

from __future__ import annotations

import collections.abc as c
import io
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.config import config as heliograph_config
from heliograph.lib import signals
from heliograph.logic import ValidationError, uploads
from tests.web.accounts_helpers import recording
from tests.web.api_helpers import SITE_URL, make_token

pytestmark = pytest.mark.usefixtures("core_actions")

CSV = b"day,spots\n2024-05-01,153\n2024-05-02,171\n"


class Api:
    """The action API of ``client`` as the holder of ``token``."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": token} if token else {}

    def call(self, name: str, /, **data: t.Any) -> t.Any:
        multipart = any(isinstance(v, tuple) for v in data.values())
        if multipart:
            response = self.client.post(
                f"/api/3/action/{name}",
                data=data,
                headers=self.headers,
                content_type="multipart/form-data",
            )
        else:
            response = self.client.post(f"/api/3/action/{name}", json=data, headers=self.headers)
        return response.status_code, response.get_json()

    def ok(self, name: str, /, **data: t.Any) -> t.Any:
        status, body = self.call(name, **data)
        assert status == 200, body
        return body["result"]


@pytest.fixture
def admin(client: FlaskClient) -> Api:
    return Api(client, make_token("admin", sysadmin=True))


@pytest.fixture
def org(admin: Api) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], admin.ok("organization_create", name="sun-watchers"))


@pytest.fixture
def pkg(admin: Api, org: dict[str, t.Any]) -> dict[str, t.Any]:
    return t.cast(
        dict[str, t.Any], admin.ok("package_create", name="sunspots", owner_org=org["id"])
    )


def storage(app: Flask) -> Path:
    return Path(heliograph_config["heliograph.storage_path"])


def stored_files(app: Flask) -> list[Path]:
    root = storage(app)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def upload(content: bytes = CSV, name: str = "spots.csv") -> tuple[io.BytesIO, str]:
    return (io.BytesIO(content), name)


def path_of(url: str) -> str:
    assert url.startswith(SITE_URL), url
    return url[len(SITE_URL) :]


def test_multipart_upload_stores_the_file_under_the_resource_id_and_records_it(
    app: Flask, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], name="Spots", upload=upload())
    assert res["url_type"] == "upload"
    assert res["url"] == f"{SITE_URL}/dataset/{pkg['id']}/resource/{res['id']}/download/spots.csv"
    assert res["size"] == len(CSV)
    assert res["mimetype"] == "text/csv"
    rid = res["id"]
    assert stored_files(app) == [Path("resources", rid[:3], rid[3:6], rid[6:])]
    assert uploads.resource_path(rid).read_bytes() == CSV
    assert admin.ok("resource_show", id=rid)["url"] == res["url"]


def test_download_streams_the_bytes_with_the_content_type_and_sends_resource_download_once(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    for path in (path_of(res["url"]), f"/dataset/sunspots/resource/{res['id']}/download"):
        with recording(signals.resource_download) as calls:
            response = client.get(path)
        assert response.status_code == 200
        assert response.data == CSV
        assert response.mimetype == "text/csv"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert calls["resource_download"] == [(res["id"], {})]


def test_resource_with_only_a_url_redirects_and_sends_no_signal(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], url="https://example.org/spots.csv")
    with recording(signals.resource_download) as calls:
        response = client.get(f"/dataset/sunspots/resource/{res['id']}/download")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.org/spots.csv"
    assert calls["resource_download"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/dataset/sunspots/resource/no-such-resource/download",
        "/dataset/no-such-dataset/resource/{rid}/download",
        "/dataset/sunspots/resource/no-such-resource/download/spots.csv",
    ],
)
def test_missing_dataset_or_resource_is_the_404_page_and_sends_no_signal(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any], path: str
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    with recording(signals.resource_download) as calls:
        response = client.get(path.format(rid=res["id"]))
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert calls["resource_download"] == []


def test_missing_file_is_404_and_sends_no_signal(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    uploads.resource_path(res["id"]).unlink()
    with recording(signals.resource_download) as calls:
        response = client.get(path_of(res["url"]))
    assert response.status_code == 404
    assert calls["resource_download"] == []


def test_private_dataset_file_is_refused_to_who_cannot_see_it_without_a_signal(
    client: FlaskClient, admin: Api, org: dict[str, t.Any]
) -> None:
    private = admin.ok("package_create", name="hidden", owner_org=org["id"], private="true")
    assert private["private"] is True
    res = admin.ok("resource_create", package_id=private["id"], upload=upload())
    outsider = make_token("outsider")
    for headers in ({}, {"Authorization": outsider}):
        with recording(signals.resource_download) as calls:
            response = client.get(path_of(res["url"]), headers=headers)
        assert response.status_code == 403
        assert "text/html" in response.content_type
        assert CSV not in response.data
        assert calls["resource_download"] == []
    with recording(signals.resource_download) as calls:
        response = client.get(path_of(res["url"]), headers=admin.headers)
    assert response.status_code == 200 and response.data == CSV
    assert calls["resource_download"] == [(res["id"], {})]


def test_an_upload_over_the_size_limit_is_refused_naming_upload_and_leaves_nothing(
    make_web_app: c.Callable[..., Flask],
) -> None:
    app = make_web_app(heliograph__max_resource_size_mb="1")
    admin = Api(app.test_client(), make_token("admin", sysadmin=True))
    org = admin.ok("organization_create", name="sun-watchers")
    pkg = admin.ok("package_create", name="sunspots", owner_org=org["id"])
    big = b"x" * (1024 * 1024 + 1)
    status, body = admin.call("resource_create", package_id=pkg["id"], upload=upload(big))
    assert status == 409
    assert body["error"]["__type"] == "Validation Error"
    assert "1 MB" in body["error"]["upload"][0]
    assert admin.ok("package_show", id=pkg["id"])["resources"] == []
    assert stored_files(app) == []
    exact = b"y" * (1024 * 1024)
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload(exact))
    assert res["size"] == len(exact)


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../../b.csv", "..", "../", "\u2603\u2603"])
def test_path_traversal_and_empty_names_are_refused(
    app: Flask, admin: Api, pkg: dict[str, t.Any], name: str
) -> None:
    status, body = admin.call("resource_create", package_id=pkg["id"], upload=upload(CSV, name))
    assert status == 409
    assert "upload" in body["error"]
    assert admin.ok("package_show", id=pkg["id"])["resources"] == []
    assert stored_files(app) == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("my report (final).csv", "my_report_final.csv"),
        ("dir/spots.csv", "spots.csv"),
        ("/etc/spots.csv", "spots.csv"),
    ],
)
def test_client_file_names_are_sanitized_and_never_used_as_the_stored_path(
    app: Flask, admin: Api, pkg: dict[str, t.Any], name: str, shown: str
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload(CSV, name))
    assert res["url"].endswith(f"/resource/{res['id']}/download/{shown}")
    rid = res["id"]
    assert stored_files(app) == [Path("resources", rid[:3], rid[3:6], rid[6:])]


@pytest.mark.parametrize(
    ("name", "shown"),
    [("C:\\Users\\me\\spots.csv", "spots.csv"), ("r\u00e9sum\u00e9 2024.pdf", "resume_2024.pdf")],
)
def test_clean_filename_keeps_the_last_part_made_safe(name: str, shown: str) -> None:
    assert uploads.clean_filename(name) == shown


@pytest.mark.parametrize("name", ["..\\..\\boot.ini", "a\\..\\b", "x\x00.csv", "", "/"])
def test_clean_filename_refuses_traversal_nul_and_nothing(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        uploads.clean_filename(name)
    assert "upload" in caught.value.error_dict


def test_update_with_a_new_upload_replaces_the_file(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    new = b'{"spots": 200}'
    updated = admin.ok("resource_update", id=res["id"], name="v2", upload=upload(new, "s.json"))
    assert updated["size"] == len(new)
    assert updated["mimetype"] == "application/json"
    assert updated["url"].endswith("/download/s.json")
    response = client.get(path_of(updated["url"]))
    assert response.data == new and response.mimetype == "application/json"


def test_update_without_upload_keeps_the_file(
    client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    updated = admin.ok("resource_update", **{**res, "name": "renamed"})
    assert updated["url"] == res["url"] and updated["url_type"] == "upload"
    assert client.get(path_of(updated["url"])).data == CSV


def test_clear_upload_makes_a_plain_resource_and_deletes_the_file(
    app: Flask, client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    cleared = admin.ok(
        "resource_update",
        id=res["id"],
        url="https://example.org/elsewhere.csv",
        clear_upload="true",
    )
    assert cleared["url_type"] is None
    assert cleared["url"] == "https://example.org/elsewhere.csv"
    assert stored_files(app) == []
    with recording(signals.resource_download) as calls:
        response = client.get(f"/dataset/sunspots/resource/{res['id']}/download")
    assert response.status_code == 302
    assert calls["resource_download"] == []


def test_a_failing_update_keeps_the_old_file_and_leaves_no_temporary_file(
    app: Flask, client: FlaskClient, admin: Api, pkg: dict[str, t.Any]
) -> None:
    res = admin.ok("resource_create", package_id=pkg["id"], upload=upload())
    status, body = admin.call(
        "resource_update", id=res["id"], last_modified="not a date", upload=upload(b"new")
    )
    assert status == 409 and "last_modified" in body["error"]
    assert client.get(path_of(res["url"])).data == CSV
    assert len(stored_files(app)) == 1
    status, body = admin.call(
        "resource_create", package_id=pkg["id"], last_modified="never", upload=upload()
    )
    assert status == 409
    assert len(stored_files(app)) == 1


def test_an_outsider_cannot_upload_and_nothing_is_stored(
    app: Flask, client: FlaskClient, pkg: dict[str, t.Any]
) -> None:
    outsider = Api(client, make_token("outsider"))
    status, _body = outsider.call("resource_create", package_id=pkg["id"], upload=upload())
    assert status == 403
    assert stored_files(app) == []


def test_ckanapi_uploads_a_file_and_the_portal_serves_it(
    make_web_app: c.Callable[..., Flask], tmp_path: Path
) -> None:
    ckanapi = pytest.importorskip("ckanapi")
    import threading

    import requests
    import waitress
    from waitress import wasyncore

    app = make_web_app()
    token = make_token("admin", sysadmin=True)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, name="files-portal", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        ck = ckanapi.RemoteCKAN(url, apikey=token)
        org = ck.action.organization_create(name="sun-watchers")
        pkg = ck.action.package_create(name="sunspots", owner_org=org["id"])
        source = tmp_path / "spots.csv"
        source.write_bytes(CSV)
        with source.open("rb") as fh:
            res = ck.action.resource_create(package_id=pkg["id"], name="Spots", upload=fh)
        assert res["url_type"] == "upload" and res["size"] == len(CSV)
        with recording(signals.resource_download) as calls:
            response = requests.get(url + path_of(res["url"]), timeout=10)
        assert response.content == CSV
        assert response.headers["Content-Type"].startswith("text/csv")
        assert calls["resource_download"] == [(res["id"], {})]
        with pytest.raises(ckanapi.ValidationError):
            ck.action.resource_create(package_id=pkg["id"], upload=("../x.csv", io.BytesIO(CSV)))
    finally:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=10)


def test_an_outer_action_failing_after_a_nested_upload_leaves_no_file(
    app: Flask, admin: Api, pkg: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from werkzeug.datastructures import FileStorage

    from heliograph import logic
    from tests.web.api_helpers import install_actions

    def hg_test_upload_then_fail(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> None:
        file = FileStorage(io.BytesIO(CSV), filename="spots.csv")
        logic.get_action("resource_create")(context, {"package_id": pkg["id"], "upload": file})
        raise logic.ValidationError({"later": ["went wrong after the upload"]})

    install_actions(monkeypatch, {"hg_test_upload_then_fail": hg_test_upload_then_fail})
    with pytest.raises(logic.ValidationError):
        logic.get_action("hg_test_upload_then_fail")({"ignore_auth": True}, {})
    monkeypatch.undo()
    logic.registry.reset()
    model.Session.remove()
    assert admin.ok("package_show", id=pkg["id"])["resources"] == []
    assert stored_files(app) == []
