"""The ``webhooks`` plugin: portal events delivered to HTTP endpoints, signed to
the Standard Webhooks specification, retried, logged, and only what the
hook's owner may see."""
