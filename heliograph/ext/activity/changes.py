"""What changed between two snapshots of a dataset, in words (as CKAN's
``changes`` snippets say it: "changed the title to ...", "added the tag ...").

:func:`summarize` compares two ``package_show`` dicts and returns one
:class:`Change` a difference: the field, its kind (``added``, ``removed``,
``changed``), a sentence, and the values before and after as text. Fields
compared: the title, name, description, source URL, version, author and
maintainer (and their e-mails), licence, organization, visibility, state,
tags, groups, custom extras and resources (added, removed, and their name,
URL, format and description). Anything else that changed is one "changed
the field" line, so nothing is left out of the summary.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

TEXT_FIELDS = {
    "title": "the title",
    "name": "the URL name",
    "notes": "the description",
    "url": "the source URL",
    "version": "the version",
    "author": "the author",
    "author_email": "the author's e-mail",
    "maintainer": "the maintainer",
    "maintainer_email": "the maintainer's e-mail",
}
RESOURCE_FIELDS = {
    "name": "name",
    "url": "URL",
    "format": "format",
    "description": "description",
}
HANDLED = {
    *TEXT_FIELDS,
    "license_id",
    "license_title",
    "license_url",
    "isopen",
    "owner_org",
    "organization",
    "private",
    "state",
    "tags",
    "num_tags",
    "groups",
    "extras",
    "resources",
    "num_resources",
    "metadata_modified",
    "metadata_created",
}
LONG = 200


@dataclass(frozen=True)
class Change:
    field: str
    kind: str  # added, removed or changed
    text: str
    before: str = ""
    after: str = ""


def _shown(value: t.Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _quoted(value: str) -> str:
    short = value if len(value) <= LONG else value[: LONG - 1] + "…"
    return f"“{short}”"


def _text_change(field: str, label: str, old: t.Any, new: t.Any) -> Change | None:
    before, after = _shown(old), _shown(new)
    if before == after:
        return None
    if not before:
        return Change(field, "added", f"Set {label} to {_quoted(after)}.", before, after)
    if not after:
        return Change(field, "removed", f"Removed {label} (was {_quoted(before)}).", before, after)
    if field == "notes":
        return Change(field, "changed", "Updated the description.", before, after)
    return Change(
        field,
        "changed",
        f"Changed {label} to {_quoted(after)} (was {_quoted(before)}).",
        before,
        after,
    )


def _names(items: t.Any, key: str = "name") -> list[str]:
    return sorted(
        str(item.get("display_name") or item.get("title") or item.get(key))
        if key != "name"
        else str(item.get(key))
        for item in items or []
        if isinstance(item, dict)
    )


def _org(pkg: dict[str, t.Any]) -> str:
    org = pkg.get("organization")
    if isinstance(org, dict):
        return str(org.get("title") or org.get("name") or "")
    return _shown(pkg.get("owner_org"))


def summarize(before: dict[str, t.Any], after: dict[str, t.Any]) -> list[Change]:
    """The differences from ``before`` to ``after`` (two dataset dicts), in words."""
    changes: list[Change] = []
    for field, label in TEXT_FIELDS.items():
        found = _text_change(field, label, before.get(field), after.get(field))
        if found:
            changes.append(found)
    old_licence = _shown(before.get("license_title") or before.get("license_id"))
    new_licence = _shown(after.get("license_title") or after.get("license_id"))
    if before.get("license_id") != after.get("license_id"):
        if new_licence:
            text = f"Changed the licence to {_quoted(new_licence)}"
            text += f" (was {_quoted(old_licence)})." if old_licence else "."
            changes.append(Change("license_id", "changed", text, old_licence, new_licence))
        else:
            text = f"Removed the licence (was {_quoted(old_licence)})."
            changes.append(Change("license_id", "removed", text, old_licence, ""))
    if before.get("owner_org") != after.get("owner_org"):
        old_org, new_org = _org(before), _org(after)
        text = f"Moved the dataset to the organization {_quoted(new_org)}" if new_org else ""
        text = text or "Took the dataset out of its organization"
        text += f" (from {_quoted(old_org)})." if old_org else "."
        changes.append(Change("owner_org", "changed", text, old_org, new_org))
    if bool(before.get("private")) != bool(after.get("private")):
        state = "Private" if after.get("private") else "Public"
        changes.append(
            Change(
                "private",
                "changed",
                f"Set the visibility to {state}.",
                "Private" if before.get("private") else "Public",
                state,
            )
        )
    if before.get("state") != after.get("state") and after.get("state"):
        text = f"Changed the state to {_quoted(str(after['state']))}."
        changes.append(
            Change("state", "changed", text, _shown(before.get("state")), str(after["state"]))
        )
    changes += _set_changes(
        "tags", "the tag", _names(before.get("tags")), _names(after.get("tags"))
    )
    changes += _set_changes(
        "groups",
        "the dataset to the group",
        _names(before.get("groups"), "title"),
        _names(after.get("groups"), "title"),
        removed_words="the dataset from the group",
    )
    changes += _extras(before.get("extras"), after.get("extras"))
    changes += _resources(before.get("resources"), after.get("resources"))
    for field in sorted((set(before) | set(after)) - HANDLED):
        old, new = _shown(before.get(field)), _shown(after.get(field))
        if old != new:
            kind = "added" if not old else ("removed" if not new else "changed")
            changes.append(Change(field, kind, f"Changed the field {_quoted(field)}.", old, new))
    return changes


def _set_changes(
    field: str, words: str, old: list[str], new: list[str], removed_words: str | None = None
) -> list[Change]:
    found = []
    for name in sorted(set(new) - set(old)):
        found.append(Change(field, "added", f"Added {words} {_quoted(name)}.", "", name))
    for name in sorted(set(old) - set(new)):
        text = f"Removed {removed_words or words} {_quoted(name)}."
        found.append(Change(field, "removed", text, name, ""))
    return found


def _extras(old_items: t.Any, new_items: t.Any) -> list[Change]:
    old = {e["key"]: _shown(e.get("value")) for e in old_items or [] if isinstance(e, dict)}
    new = {e["key"]: _shown(e.get("value")) for e in new_items or [] if isinstance(e, dict)}
    found = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            text = f"Added the field {_quoted(key)} with the value {_quoted(new[key])}."
            found.append(Change(f"extras.{key}", "added", text, "", new[key]))
        elif key not in new:
            text = f"Removed the field {_quoted(key)}."
            found.append(Change(f"extras.{key}", "removed", text, old[key], ""))
        elif old[key] != new[key]:
            text = f"Changed the value of the field {_quoted(key)} to {_quoted(new[key])}."
            found.append(Change(f"extras.{key}", "changed", text, old[key], new[key]))
    return found


def _resources(old_items: t.Any, new_items: t.Any) -> list[Change]:
    old = {r["id"]: r for r in old_items or [] if isinstance(r, dict) and "id" in r}
    new = {r["id"]: r for r in new_items or [] if isinstance(r, dict) and "id" in r}
    found = []
    for rid, res in new.items():
        name = _shown(res.get("name")) or _shown(res.get("url")) or rid
        if rid not in old:
            found.append(
                Change("resources", "added", f"Added the resource {_quoted(name)}.", "", name)
            )
            continue
        for key, label in RESOURCE_FIELDS.items():
            before, after = _shown(old[rid].get(key)), _shown(res.get(key))
            if before != after:
                text = f"Changed the {label} of the resource {_quoted(name)}"
                text += f" to {_quoted(after)}." if after and key != "description" else "."
                found.append(Change(f"resources.{key}", "changed", text, before, after))
    for rid, res in old.items():
        if rid not in new:
            name = _shown(res.get("name")) or _shown(res.get("url")) or rid
            text = f"Removed the resource {_quoted(name)}."
            found.append(Change("resources", "removed", text, name, ""))
    return found
