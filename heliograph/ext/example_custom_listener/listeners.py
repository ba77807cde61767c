"""The receivers of this extension."""

from __future__ import annotations

import logging
import typing as t

log = logging.getLogger(__name__)


def custom_listener(sender: t.Any, **kwargs: t.Any) -> str:
    # Nothing guarantees which arguments come: read them from kwargs, never modify them.
    log.info("custom_something_happened from %r with %s", sender, sorted(kwargs))
    return f"heard {sender}"
