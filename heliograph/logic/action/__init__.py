"""Core actions, grouped by verb as in CKAN (get, create, update, delete).

Each module lists its public actions in ``__all__``; every action checks its
auth function first, validates, then works on ``context['session']``.
"""

from __future__ import annotations

from heliograph.logic import Action


def collect() -> dict[str, Action]:
    """The core actions by name. Everything in ``get`` is side-effect free."""
    from heliograph.logic import side_effect_free
    from heliograph.logic.action import catalog, create, delete, get, jobs, update

    found: dict[str, Action] = {}
    for module in (get, create, update, delete, jobs, catalog):
        for name in getattr(module, "__all__", ()):
            fn = getattr(module, name)
            found[name] = side_effect_free(fn) if module is get else fn
    return found
