"""Bundled extensions.

Each is a plugin found through the ``heliograph.plugins`` entry point group,
built only on :mod:`heliograph.plugins` and :mod:`heliograph.plugins.toolkit`,
as a third party's would be.
"""
