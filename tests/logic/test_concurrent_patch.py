"""Concurrent changes to one dataset apply to its current row: none is lost."""

from __future__ import annotations

import collections.abc as c
import threading
import typing as t

from heliograph import logic, model

Call = c.Callable[..., t.Any]

FIELDS = (
    "title",
    "notes",
    "url",
    "version",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license_id",
    "private",
)


def _run_together(jobs: list[c.Callable[[], t.Any]]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def run(job: c.Callable[[], t.Any]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # reported by the test
            failures.append(exc)
        finally:
            model.Session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def _as(user: str, name: str, data: dict[str, t.Any]) -> c.Callable[[], t.Any]:
    def job() -> t.Any:
        return logic.get_action(name)({"user": user, "session": model.Session}, data)

    return job


def test_twenty_simultaneous_changes_all_apply(call: Call, dataset: dict[str, t.Any]) -> None:
    """Ten patches of ten different fields and ten resource_create calls at once."""
    model.Session.remove()
    values: dict[str, t.Any] = {field: f"{field}-x" for field in FIELDS}
    values.update(
        private=True,
        license_id="cc-by",
        url="http://example.org/x",
        author_email="author@example.org",
        maintainer_email="maintainer@example.org",
    )
    jobs = [_as("editor", "package_patch", {"id": dataset["id"], f: v}) for f, v in values.items()]
    jobs += [
        _as("editor", "resource_create", {"package_id": dataset["id"], "url": f"http://r/{i}"})
        for i in range(20 - len(jobs))
    ]
    assert len(jobs) == 20
    assert _run_together(jobs) == []
    shown = call("package_show", {"id": dataset["id"]}, user="editor")
    assert {field: shown[field] for field in values} == values
    urls = {r["url"] for r in shown["resources"]}
    assert {f"http://r/{i}" for i in range(10)} <= urls
    assert len(shown["resources"]) == 11
