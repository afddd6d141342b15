"""The service's purge: sign-ups never confirmed are deleted once their confirmation link
has expired (emails.confirm.CONFIRM_MAX_AGE), with their consent records and the
confirmation mail the files transport kept: someone who never confirmed leaves nothing.
Run by the digest job (service.jobs) and `run --once`."""

from __future__ import annotations

from datetime import datetime, timedelta

from postroom.core.config import Site
from postroom.emails.confirm import CONFIRM_MAX_AGE
from postroom.emails.transports import mail_file_name
from postroom.store import Store
from postroom.store.rights import purge_unconfirmed


def purge_unconfirmed_signups(site: Site, store: Store, now: datetime) -> int:
    """Sign-ups never confirmed, once their confirmation link has expired: deleted, with
    their consent records and the confirmation mail the files transport kept; how many."""
    gone = purge_unconfirmed(store, now - timedelta(seconds=CONFIRM_MAX_AGE))
    for address in gone:  # the latest request to each address, by its hash (FileTransport)
        (site.root / "outbox" / "confirm" / mail_file_name(address)).unlink(missing_ok=True)
    return len(gone)
