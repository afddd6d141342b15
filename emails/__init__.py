"""The weekly digest: what goes in an issue, how it is rendered, and its delivery.

- `emails.issues`: the weekly slot decided, issues by membership (a post goes out in
  at most one issue).
- `emails.render`: one issue rendered once (Jinja2, CSS inlined by premailer, plain text).
- `emails.message`: one message per recipient (headers, List-Unsubscribe, DKIM).
- `emails.delivery`, `emails.sending`: claiming, sending and retrying through a transport
  (the ledger itself, a state machine, is `store.outbox`).
- `emails.transports`: the transports, registered by name (`mail.transport`).
- `emails.tokens`, `emails.confirm`: signed links for unsubscribe and confirmation.

The rows behind issues and the outbox live in `store/`; this package holds the policy.
"""
