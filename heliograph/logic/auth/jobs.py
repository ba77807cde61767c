"""Auth functions of the job actions: sysadmins only, as in CKAN."""

from __future__ import annotations

import typing as t

from heliograph.logic import Context, DataDict
from heliograph.logic.auth import refuse


def _sysadmins_only(_context: Context, _data_dict: DataDict) -> dict[str, t.Any]:
    # Sysadmins pass every check before this is asked; everyone else is refused.
    return refuse("Only sysadmins may see or change background jobs")


job_list = job_show = job_cancel = job_clear = _sysadmins_only
