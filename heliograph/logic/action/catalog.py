"""The live signal catalog of the running portal (sysadmins only)."""

from __future__ import annotations

import typing as t

from heliograph.logic import Context, DataDict, ValidationError, check_access, side_effect_free

__all__ = ["signal_catalog_show"]


@side_effect_free
def signal_catalog_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Every signal of the ``ckan`` and ``ckanext`` namespaces as this portal
    runs it: contract, policy, sends and failures, and each receiver with its
    senders, owning plugins, failures since it was connected and call
    timings (``calls``,
    ``seconds_total``, ``seconds_mean``, ``seconds_p95_at_most``; zero calls
    while ``receiver_timing`` is off). Also ``sends_per_minute`` of the
    answering process for the last hour, and whether several processes
    report together (``multiprocess``). Parameter ``namespace`` (optional)
    keeps the signals of one namespace.
    """
    check_access("signal_catalog_show", context, data_dict)
    from heliograph.lib import signals as lib_signals
    from heliograph.metrics.catalog import live_catalog

    namespace = data_dict.get("namespace")
    if namespace not in (None, "") and (
        not isinstance(namespace, str) or namespace not in lib_signals.namespaces
    ):
        known = ", ".join(lib_signals.namespaces)
        raise ValidationError({"namespace": [f"Must be one of: {known}"]})
    result = live_catalog()
    if namespace:
        result["signals"] = [row for row in result["signals"] if row["namespace"] == namespace]
    return result
