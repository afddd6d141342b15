"""Signals a plugin can subscribe to, as Pelican's are: a later feature such as
cross-posting connects a receiver here instead of editing the layers that act.

    from postroom.core.signals import post_published

    @post_published.connect
    def announce(site, *, post):
        ...

Each is sent after the fact is durable (committed to the store), never before, so a
receiver never sees a post or issue that a crash could still take back. A receiver's
exception is reported by the sender and does not undo the fact or stop other receivers.

- `post_published(site, post=Post)`: a post became public for the first time.
- `issue_issued(site, issue=Issue, posts=tuple[Post, ...])`: a digest issue was made
  (`store.digests.Issue`: numbered, rendered, queued for every active subscriber, with
  its posts in the issue's order), before any of its messages is sent: once an issue.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal

_SIGNALS = Namespace()
_LOG = logging.getLogger("postroom.signals")

post_published: Signal = _SIGNALS.signal("post-published")
issue_issued: Signal = _SIGNALS.signal("issue-issued")


def send(signal: Signal, sender: Any, **fields: Any) -> None:
    """Send `signal` to each receiver in turn; one that raises is logged by name and
    the rest still run (a plugin's bug must not stop a build or a digest)."""
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **fields)
        except Exception as exc:  # a plugin's failure, reported, never fatal
            name = getattr(receiver, "__qualname__", repr(receiver))
            _LOG.warning("signal %s: receiver %s failed: %s", signal.name, name, exc)
