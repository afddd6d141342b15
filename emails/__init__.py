"""The weekly digest (issue 3, in progress).

- `emails.issues`: issues by membership; a post goes out in at most one issue.
- `emails.render`: one issue rendered once (Jinja2, CSS inlined by premailer, plain text).
- `emails.tokens`: signed tokens for the unsubscribe links.

Messages, the outbox ledger and delivery come next.
"""
