"""The platform every part stands on: configuration and settings, the database, translations, signed
tokens, text hygiene, address normal form, email templates, mailbox reading and request limits.

Nothing here knows about subscribers, editions or delivery; it imports nothing from the rest of the package.
"""
