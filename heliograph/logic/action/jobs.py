"""CKAN's background job actions, on the delivery machinery (sysadmins only)."""

from __future__ import annotations

import typing as t

from heliograph.events import jobs
from heliograph.logic import (
    Context,
    DataDict,
    ObjectNotFound,
    ValidationError,
    check_access,
    side_effect_free,
)

__all__ = ["job_cancel", "job_clear", "job_list", "job_show"]


def _queues(data_dict: DataDict) -> list[str] | None:
    queues = data_dict.get("queues")
    if queues is None or queues == "":
        return None
    if isinstance(queues, str):
        queues = queues.replace(",", " ").split()
    if not isinstance(queues, list) or not all(
        isinstance(q, str) and 0 < len(q) <= 100 for q in queues
    ):
        raise ValidationError({"queues": ["Must be a list of queue names"]})
    return queues


def _job_id(data_dict: DataDict) -> str:
    job_id = data_dict.get("id")
    if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 100:
        raise ValidationError({"id": ["Missing value"]})
    return job_id.strip()


def _connection(context: Context) -> t.Any:
    return context["session"].connection()


@side_effect_free
def job_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """Jobs that have not finished (pending, running or dead), oldest first;
    ``queues`` limits the list to those queues."""
    check_access("job_list", context, data_dict)
    return jobs.list_jobs(_connection(context), _queues(data_dict))


@side_effect_free
def job_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """One unfinished job by ``id``."""
    check_access("job_show", context, data_dict)
    found = jobs.show(_connection(context), _job_id(data_dict))
    if found is None:
        raise ObjectNotFound("Job not found")
    return found


def job_cancel(context: Context, data_dict: DataDict) -> None:
    """Remove the unfinished job ``id``."""
    check_access("job_cancel", context, data_dict)
    if not jobs.cancel(_connection(context), _job_id(data_dict)):
        raise ObjectNotFound("Job not found")


def job_clear(context: Context, data_dict: DataDict) -> list[str]:
    """Remove every unfinished job (of ``queues``); returns the queues cleared."""
    check_access("job_clear", context, data_dict)
    return jobs.clear(_connection(context), _queues(data_dict))
