"""What comes back from sending: bounce reports and complaints, from a mailbox, SMTP or a provider's webhook.

One parser (`parsing`), one way to tie a report to its delivery (`matching`), one set of rules (`rules`);
the intakes (`mailboxes`, `smtp_intake`, `webhooks`) only turn what arrives into reports.
"""
