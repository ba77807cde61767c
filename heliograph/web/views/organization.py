"""Organization pages: a group blueprint of type ``organization``."""

from __future__ import annotations

from heliograph.web.views.group import make_blueprint

blueprint = make_blueprint("organization", is_organization=True)
