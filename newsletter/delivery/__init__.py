"""Delivery: the ledger of messages to send, the worker that sends them, and the transports.

The engine below the domains: editions and subscribers enqueue through `ledger`; nothing here imports them.
"""
