"""The signals of this extension, in the ``ckanext`` namespace.

Other extensions subscribe to them without importing this module:
``tk.signals.ckanext.signal('custom_something_happened')`` returns the same object.
"""

from __future__ import annotations

import heliograph.plugins.toolkit as tk

custom_something_happened = tk.signals.ckanext.signal(
    "custom_something_happened",
    doc=(
        "Sent by example_custom_sender when something happened. Sender: the plugin's "
        "name. Keyword arguments: whatever the caller of something_happened() passed."
    ),
)
