"""``example_custom_sender``: an extension that defines and sends its own signal."""
