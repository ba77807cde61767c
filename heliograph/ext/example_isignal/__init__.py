"""``example_isignal``: CKAN's ISignal example, both subscription forms in one list."""
