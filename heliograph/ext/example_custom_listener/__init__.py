"""``example_custom_listener``: listens to ``example_custom_sender``'s signal
without depending on it (the specification's soft dependency)."""
