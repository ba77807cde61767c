"""Helpers shared by the page tests: a small portal made through the actions."""

from __future__ import annotations

import re
import typing as t

from heliograph import logic, model
from tests.web.accounts_helpers import make_user


def call(name: str, data: dict[str, t.Any], user: str = "boss") -> t.Any:
    return logic.get_action(name)({"user": user, "session": model.Session}, data)


def make_portal() -> dict[str, t.Any]:
    """Users ``boss`` (sysadmin), ``editor`` (editor of ``sun-watchers``) and
    ``outsider``; the organization, a group, a public dataset with one
    resource and a private dataset."""
    make_user("boss")
    make_user("editor")
    make_user("outsider")
    session = model.Session()
    session.query(model.User).filter_by(name="boss").one().sysadmin = True
    session.commit()
    org = call("organization_create", {"name": "sun-watchers", "title": "Sun Watchers"})
    call(
        "member_create",
        {"id": org["id"], "object": "editor", "object_type": "user", "capacity": "editor"},
    )
    group = call(
        "group_create", {"name": "astronomy", "title": "Astronomy", "description": "Stars"}
    )
    public = call(
        "package_create",
        {
            "name": "sunspots",
            "title": "Sunspot counts",
            "owner_org": org["id"],
            "notes": "Daily numbers",
            "groups": [{"name": "astronomy"}],
            "resources": [
                {"url": "http://example.org/s.csv", "name": "Counts CSV", "format": "csv"}
            ],
        },
    )
    private = call(
        "package_create",
        {"name": "flares", "title": "Solar flares", "owner_org": org["id"], "private": True},
    )
    model.Session.remove()
    return {"org": org, "group": group, "public": public, "private": private}


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)
