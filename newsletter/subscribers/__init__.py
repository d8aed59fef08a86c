"""Readers: subscribing with double opt-in and consent evidence, confirmation and unsubscribe mail, the
suppression list, erasure, and moving a list in and out (CSV import and export)."""
