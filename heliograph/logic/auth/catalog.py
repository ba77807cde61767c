"""Auth function of the live signal catalog: sysadmins only."""

from __future__ import annotations

import typing as t

from heliograph.logic import Context, DataDict
from heliograph.logic.auth import refuse


def signal_catalog_show(_context: Context, _data_dict: DataDict) -> dict[str, t.Any]:
    # Sysadmins pass every check before this is asked; everyone else is refused.
    return refuse("Only sysadmins may see the signal catalog of the running portal")
