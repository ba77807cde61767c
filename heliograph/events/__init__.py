"""Delivery beyond the process: the event outbox, workers, the relay and brokers."""
