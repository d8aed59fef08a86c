"""Delivery: the ledger of messages to send, the worker that sends them, and the transports."""
