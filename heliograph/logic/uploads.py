"""Files uploaded to resources: staging, size limit, storage paths.

A resource's file lives at ``<heliograph.storage_path>/resources/<id[:3]>/
<id[3:6]>/<id[6:]>``: the path comes from the resource id alone, never from
the name the client sent. That name, cleaned by ``secure_filename``, is only
what the resource's URL shows.

An upload is streamed to a temporary file under ``<storage>/tmp`` while its
size is counted (over ``heliograph.max_resource_size_mb`` it is refused with
a ValidationError on ``upload`` and the partial file removed). The move into
place (``os.replace``, atomic) waits for the commit of the action's
transaction; if the transaction rolls back, the temporary file is deleted, so
a failed action leaves no file behind and a replaced file stays as it was.
Files of resources that stop being uploads (``clear_upload``) are deleted
after the commit too.

A process killed during an upload (``kill -9``) leaves its temporary file
behind. :func:`sweep_temporary` deletes those: at start-up every file a
process of this host that is no longer running left, and, at start-up and
then at most once a minute while uploads come in, every file older than
``heliograph.upload_tmp_max_age_minutes``.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import os
import re
import socket
import tempfile
import threading
import time
import typing as t
import urllib.parse
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from werkzeug.utils import secure_filename

from heliograph.config import config
from heliograph.logic import ValidationError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_PENDING = "heliograph_pending_files"
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{6,99}$")
_TRUE = frozenset({"true", "1", "on", "yes", "y", "t"})


def is_file(value: t.Any) -> bool:
    """Whether ``value`` is an uploaded file (a FileStorage or a file object)."""
    return callable(getattr(value, "read", None))


def given(value: t.Any) -> bool:
    """Whether ``value`` is an uploaded file; a form's empty file field
    (a FileStorage without a file name) is not."""
    if not is_file(value):
        return False
    return not (hasattr(value, "filename") and not value.filename)


def is_true(value: t.Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def storage_root() -> Path:
    value = config.get("heliograph.storage_path")
    if not value:
        instance = config.get("heliograph.instance_path")
        if not instance:
            raise ValidationError(
                {"upload": ["Uploads are not enabled: set heliograph.storage_path"]}
            )
        value = os.path.join(str(instance), "storage")
    return Path(str(value)).resolve()


def resource_path(resource_id: str) -> Path:
    """Where the file of resource ``resource_id`` is kept; ValueError for an
    id that could not be a resource's (so no path outside the storage)."""
    if not isinstance(resource_id, str) or not _RESOURCE_ID.match(resource_id):
        raise ValueError(f"not a resource id: {resource_id!r}")
    root = storage_root() / "resources"
    path = root / resource_id[:3] / resource_id[3:6] / resource_id[6:]
    if root not in path.resolve().parents:  # pragma: no cover - the pattern forbids it
        raise ValueError(f"not a resource id: {resource_id!r}")
    return path


def clean_filename(raw: t.Any) -> str:
    """The display name of an upload: ``secure_filename`` of the client's
    name; a name that tries to leave its folder, or that nothing is left of,
    is refused with a ValidationError on ``upload``."""
    name = str(raw or "")
    parts = re.split(r"[\\/]", name)
    if "\x00" in name or ".." in parts:
        raise ValidationError({"upload": [f"File name {name!r} is not allowed (no '..' or NUL)"]})
    cleaned = secure_filename(parts[-1] if parts else "")
    if not cleaned:
        raise ValidationError(
            {"upload": [f"File name {name!r} is not allowed: use letters, digits, '.', '-', '_'"]}
        )
    return cleaned


@dataclasses.dataclass
class Staged:
    """An upload written to a temporary file, waiting for its resource."""

    temp: Path
    size: int
    filename: str
    mimetype: str
    final: Path | None = None

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


def stage(upload: t.Any, session: t.Any) -> Staged:
    """Stream ``upload`` into a temporary file under the storage folder,
    refusing it past the size limit; the file is deleted when ``session``'s
    transaction ends unless :func:`place` gave it a home before a commit."""
    filename = clean_filename(getattr(upload, "filename", None) or getattr(upload, "name", None))
    limit_mb = config.as_int("heliograph.max_resource_size_mb", 10)
    limit = limit_mb * 1024 * 1024
    folder = storage_root() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    _sweep_now_and_then()
    fd, name = tempfile.mkstemp(dir=folder, prefix=_temp_prefix())
    temp = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            stream = getattr(upload, "stream", upload)
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                if isinstance(chunk, str):
                    chunk = chunk.encode("utf-8")
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        {
                            "upload": [
                                f"File is too large: uploads may be at most {limit_mb} MB "
                                "(heliograph.max_resource_size_mb)"
                            ]
                        }
                    )
                out.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    staged = Staged(temp=temp, size=size, filename=filename, mimetype=_mimetype(upload, filename))
    _pending(session).append(staged)
    return staged


# -- abandoned temporary files -------------------------------------------------------

SWEEP_INTERVAL = 60.0
_sweep_lock = threading.Lock()
_last_sweep = 0.0


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _temp_prefix() -> str:
    """``upload-<host>-<pid>-``: who is writing the file, for the sweep."""
    return f"upload-{_host()}-{os.getpid()}-"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def sweep_temporary(*, at_start: bool = False) -> int:
    """Delete abandoned temporary upload files; returns how many.

    A file older than ``heliograph.upload_tmp_max_age_minutes`` is abandoned.
    With ``at_start``, so is a file written by a process of this host that no
    longer runs (killed during an upload). Files of running processes that
    are younger are in use and stay.
    """
    try:
        folder = storage_root() / "tmp"
    except ValidationError:
        return 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    max_age = config.as_int("heliograph.upload_tmp_max_age_minutes", 60) * 60
    now = time.time()
    host = _host()
    removed = 0
    for entry in entries:
        if not entry.name.startswith("upload-") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > max_age
            parts = entry.name.split("-")
            orphan = (
                at_start
                and len(parts) >= 4
                and parts[1] == host
                and parts[2].isdigit()
                and int(parts[2]) != os.getpid()
                and _process_gone(int(parts[2]))
            )
            if old or orphan:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            log.warning("could not remove the temporary upload file %s", entry.path, exc_info=True)
    if removed:
        log.info("removed %d abandoned temporary upload file(s) from %s", removed, folder)
    return removed


def _sweep_now_and_then() -> None:
    global _last_sweep
    now = time.monotonic()
    if now - _last_sweep < SWEEP_INTERVAL or not _sweep_lock.acquire(blocking=False):
        return
    try:
        _last_sweep = now
        sweep_temporary()
    finally:
        _sweep_lock.release()


def place(staged: Staged, resource_id: str) -> None:
    """Move ``staged`` to the file of ``resource_id`` once the transaction commits."""
    staged.final = resource_path(resource_id)


def remove_after_commit(session: t.Any, resource_id: str) -> None:
    """Delete the file of ``resource_id`` once the transaction commits."""
    _pending(session).append(resource_id)


FORMATS_BY_EXTENSION = {
    "csv": "CSV",
    "tsv": "TSV",
    "tab": "TSV",
    "json": "JSON",
    "jsonl": "JSONL",
    "ndjson": "JSONL",
    "geojson": "GeoJSON",
    "xml": "XML",
    "rdf": "RDF",
    "ttl": "TTL",
    "xls": "XLS",
    "xlsx": "XLSX",
    "ods": "ODS",
    "pdf": "PDF",
    "doc": "DOC",
    "docx": "DOCX",
    "odt": "ODT",
    "txt": "TXT",
    "html": "HTML",
    "htm": "HTML",
    "zip": "ZIP",
    "gz": "GZ",
    "parquet": "Parquet",
    "shp": "SHP",
    "kml": "KML",
    "kmz": "KMZ",
    "gpkg": "GPKG",
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "gif": "GIF",
    "svg": "SVG",
}
FORMATS_BY_MIMETYPE = {
    "text/csv": "CSV",
    "text/tab-separated-values": "TSV",
    "application/json": "JSON",
    "application/geo+json": "GeoJSON",
    "application/xml": "XML",
    "text/xml": "XML",
    "application/vnd.ms-excel": "XLS",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/pdf": "PDF",
    "text/plain": "TXT",
    "text/html": "HTML",
    "application/zip": "ZIP",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
}


def guess_format(filename: str, mimetype: str | None = None) -> str | None:
    """The format name (``CSV``, ``JSON``, ...) of a file called ``filename``,
    from its extension, else from ``mimetype``; None when neither tells."""
    path = urllib.parse.urlsplit(filename).path if "://" in filename else filename
    name = path.rsplit("/", 1)[-1].lower()
    if "." in name:
        extension = name.rsplit(".", 1)[1]
        if extension in FORMATS_BY_EXTENSION:
            return FORMATS_BY_EXTENSION[extension]
    if mimetype:
        return FORMATS_BY_MIMETYPE.get(mimetype.split(";", 1)[0].strip().lower())
    return None


def _mimetype(upload: t.Any, filename: str) -> str:
    guessed, _encoding = mimetypes.guess_type(filename, strict=False)
    if guessed:
        return guessed
    sent = getattr(upload, "mimetype", None)
    if isinstance(sent, str) and re.match(r"^[\w.+-]+/[\w.+-]+$", sent):
        return sent
    return "application/octet-stream"


# -- the transaction decides --------------------------------------------------------


def _pending(session: t.Any) -> list[t.Any]:
    info = session.info
    pending = info.get(_PENDING)
    if pending is None:
        pending = info[_PENDING] = []
    return t.cast(list[t.Any], pending)


def _after_commit(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING, None) or []
    for item in pending:
        try:
            if isinstance(item, Staged):
                if item.final is None:
                    item.discard()
                    continue
                item.final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item.temp, item.final)
            else:
                resource_path(item).unlink(missing_ok=True)
        except (OSError, ValueError):
            log.exception("could not finish the file of an upload (%r)", item)


def _after_transaction_end(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    for item in session.info.pop(_PENDING, None) or []:
        if isinstance(item, Staged):
            item.discard()


event.listen(OrmSession, "after_commit", _after_commit)
event.listen(OrmSession, "after_transaction_end", _after_transaction_end)
