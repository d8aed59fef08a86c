"""What comes back from sending: bounce reports and complaints, from a mailbox, SMTP or a provider's webhook.

One reader (`parsing`: DSNs by their structure in `dsn`, complaints in `complaints`, prose formats in
`families`, SES in `ses`), one reason table (`reasons`, applied by `classify`), one way to tie a report to its
delivery (`matching`), one set of rules (`rules`); the intakes (`mailboxes`, `smtp_intake`, `webhooks`) only
turn what arrives into `report.Report`s.
"""
