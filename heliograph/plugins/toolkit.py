"""The toolkit: what an extension may use of the core (the specification's ``tk``).

An extension under ``heliograph/ext/`` (or any third-party plugin) imports
``heliograph.plugins`` and this module, and nothing else of the core; when it
needs more, this module grows. Code written for CKAN ports by changing
``ckan.plugins.toolkit`` to ``heliograph.plugins.toolkit``.

Sections, each added by the issue that needs it:

- signals (here): ``tk.signals`` *is* :mod:`heliograph.lib.signals`, so
  ``tk.signals.ckanext.signal('x')``, ``tk.signals.request_started`` and every
  core signal work through it.
- configuration (here): ``tk.config``, the portal's configuration. The portal
  fills this object at start-up (``tk.config.update(...)``); keep the object,
  do not rebind it, since extensions hold references to it.
- actions, auth and errors (to come with the portal): ``get_action``,
  ``check_access``, ``ObjectNotFound``, ``NotAuthorized``, ``ValidationError``.
"""

from __future__ import annotations

import typing as t

from heliograph.lib import signals

__all__ = ["config", "signals"]

# -- configuration ---------------------------------------------------------------

config: dict[str, t.Any] = {}
"""The portal's configuration; ``heliograph.plugins`` holds the plugins
:func:`heliograph.plugins.load_all` loads (names separated by spaces)."""

# -- actions, auth and errors: added by the portal issues --------------------------
