"""Data the datastore tests share."""

from __future__ import annotations

import typing as t

FIELDS = [
    {"id": "id", "type": "int"},
    {"id": "name", "type": "text"},
    {"id": "reading", "type": "float"},
    {"id": "amount", "type": "numeric"},
    {"id": "valid", "type": "bool"},
    {"id": "day", "type": "date"},
    {"id": "seen", "type": "timestamp"},
    {"id": "extra", "type": "json"},
]

Call = t.Callable[..., t.Any]
"""The suite's ``call`` fixture: ``call(action, data_dict, user=...)``."""


RECORDS = [
    {
        "id": 1,
        "name": "Sunspot over the ridge",
        "reading": 1.5,
        "amount": "10.25",
        "valid": True,
        "day": "2024-05-01",
        "seen": "2024-05-01T12:00:00",
        "extra": {"tags": ["a", "b"]},
    },
    {
        "id": 2,
        "name": "Solar flares in the morning",
        "reading": 2.0,
        "amount": 3,
        "valid": False,
        "day": "2024-05-02",
        "seen": "2024-05-02T08:30:00",
        "extra": [1, 2],
    },
    {
        "id": 3,
        "name": "Quiet day",
        "reading": None,
        "amount": None,
        "valid": None,
        "day": None,
        "seen": None,
        "extra": None,
    },
]
