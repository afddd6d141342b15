"""The welcome email's ledger: one welcome per address, ever.

A confirm button pressed twice (or by two tabs at once) must not send two: the
first to insert the address's row sends, any other finds it there. The row is
taken before the send and given back if the send fails, so the next press of
the button tries again rather than never.
"""

from __future__ import annotations

from datetime import datetime

from postroom.store import Store
from postroom.store.schema import welcomes
from postroom.store.subscribers import normalize_address
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError


def claim_welcome(store: Store, address: str, now: datetime) -> bool:
    """True if this caller is the one to welcome `address` (nobody has before)."""
    key = normalize_address(address).lower()
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(welcomes).values(address_key=key, sent_at=now.isoformat()))
    except IntegrityError:
        return False
    return True


def release_welcome(store: Store, address: str) -> None:
    """The welcome could not be sent: the next confirmation may try again."""
    key = normalize_address(address).lower()
    with store.engine.begin() as conn:
        conn.execute(delete(welcomes).where(welcomes.c.address_key == key))
