"""Where reports that come back later are read from: an IMAP mailbox or a Maildir folder.

A mailbox hands out the messages not read yet, and each one is marked read (IMAP's
\\Seen, Maildir's S flag) once the caller has dealt with it, so the next run sees only
what arrived since. Nothing is deleted: the operator's mailbox keeps every report.
Marking is only a saving: recording a report twice is refused by the store anyway.
"""

from __future__ import annotations

import imaplib
import mailbox
import os
import re
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from postroom.core.config import BouncesSection, ConfigError, MailboxSecurity, Site

_TIMEOUT = 30.0  # seconds for one IMAP command: a server that stopped answering
_FETCH_CHUNK = 50  # messages fetched per IMAP command


class MailboxError(RuntimeError):
    """The mailbox cannot be read (a server away, a refused login, a missing folder)."""


class Mailbox(Protocol):
    def unread(self) -> Iterator[tuple[str, bytes]]:
        """(a reference for `mark_read`, the message's bytes) for every unread message."""
        ...

    def mark_read(self, ref: str) -> None: ...

    def close(self) -> None: ...


def configured(section: BouncesSection) -> bool:
    return bool(section.imap_host or section.maildir)


def open_mailbox(site: Site) -> Mailbox:
    """The bounce mailbox of `site`'s `[bounces]` section. ConfigError when it names none,
    or both; MailboxError when it cannot be opened."""
    section = site.config.bounces
    if section.imap_host and section.maildir:
        raise ConfigError("[bounces]: set imap_host or maildir, not both")
    if section.maildir:
        return MaildirBox(site.root / Path(section.maildir).expanduser())
    if section.imap_host:
        return ImapBox.connect(section)
    raise ConfigError(
        "[bounces]: no mailbox to read: set imap_host (with imap_user and the password in"
        f" ${section.imap_password_env}) or maildir in postroom.toml"
    )


#: a report is a few KB; anything this large in the mailbox is not one
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class _NotMail(Exception):
    """An entry of the Maildir that is not a regular file of a sensible size."""


def _read_regular(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MESSAGE_BYTES:
            raise _NotMail(path)
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(MAX_MESSAGE_BYTES + 1)
    finally:
        os.close(fd)


class MaildirBox:
    """A Maildir folder (Dovecot's, Postfix's `home_mailbox = Maildir/`): messages in new/
    and those in cur/ without the S (seen) flag."""

    def __init__(self, folder: Path) -> None:
        if not (folder / "cur").is_dir() or not (folder / "new").is_dir():
            raise MailboxError(f"{folder}: not a Maildir folder (no cur/ and new/ in it)")
        self.folder = folder
        self.box = mailbox.Maildir(folder, factory=None, create=False)

    def unread(self) -> Iterator[tuple[str, bytes]]:
        """Regular files only, read without following a link or blocking: a pipe, a socket
        or a link in the folder is passed over (a FIFO hung the reader for ever, a link
        was read and renamed like mail); a file past MAX_MESSAGE_BYTES too."""
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.folder / sub), key=lambda e: e.name):
                key, _, info = entry.name.partition(":")
                if entry.name.startswith(".") or "S" in info.partition(",")[2]:
                    continue
                try:
                    data = _read_regular(entry.path)
                except (OSError, _NotMail):  # gone (another reader), a link, unreadable
                    continue
                yield key, data

    def mark_read(self, ref: str) -> None:
        try:
            message = self.box.get_message(ref)
        except (KeyError, FileNotFoundError):
            return
        message.set_subdir("cur")
        message.add_flag("S")
        self.box[ref] = message

    def close(self) -> None:
        self.box.close()


class ImapBox:
    """An IMAP mailbox: UNSEEN messages, fetched without setting \\Seen (BODY.PEEK) until
    each is dealt with."""

    def __init__(self, client: imaplib.IMAP4) -> None:
        self.client = client

    @classmethod
    def connect(cls, section: BouncesSection) -> ImapBox:
        password = os.environ.get(section.imap_password_env, "")
        if not section.imap_user or not password:
            raise ConfigError(
                f"[bounces]: IMAP needs imap_user and the password in ${section.imap_password_env}"
            )
        where = f"{section.imap_host}:{section.imap_port}"
        try:
            client = _client(section)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP {where}: cannot connect: {exc}") from None
        try:
            client.login(section.imap_user, password)
            kind, answer = client.select(_quoted(section.mailbox))
            if kind != "OK":
                raise imaplib.IMAP4.error(f"no mailbox {section.mailbox!r}: {_said(answer)}")
        except (OSError, imaplib.IMAP4.error) as exc:
            _close_quietly(client)
            raise MailboxError(f"IMAP {where}: {exc}") from None
        return cls(client)

    def unread(self) -> Iterator[tuple[str, bytes]]:
        try:
            kind, answer = self.client.uid("SEARCH", None, "UNSEEN")
            if kind != "OK":
                raise MailboxError(f"IMAP SEARCH refused: {_said(answer)}")
            uids = [u.decode() for u in (answer[0] or b"").split()]
            for start in range(0, len(uids), _FETCH_CHUNK):
                chunk = uids[start : start + _FETCH_CHUNK]
                kind, answer = self.client.uid("FETCH", ",".join(chunk), "(UID BODY.PEEK[])")
                if kind != "OK":
                    raise MailboxError(f"IMAP FETCH refused: {_said(answer)}")
                for item in answer:
                    if isinstance(item, tuple) and (found := _UID.search(item[0])):
                        yield found.group(1).decode(), item[1]
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP: {exc}") from None

    def mark_read(self, ref: str) -> None:
        try:
            self.client.uid("STORE", ref, "+FLAGS.SILENT", r"(\Seen)")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP: {exc}") from None

    def close(self) -> None:
        _close_quietly(self.client)


_UID = re.compile(rb"\bUID (\d+)")


def _client(section: BouncesSection) -> imaplib.IMAP4:
    host, port = section.imap_host, section.imap_port
    if section.imap_security is MailboxSecurity.TLS:
        context = ssl.create_default_context()
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=_TIMEOUT)
    client = imaplib.IMAP4(host, port, timeout=_TIMEOUT)
    if section.imap_security is MailboxSecurity.STARTTLS:
        client.starttls(ssl.create_default_context())
    return client


def _quoted(name: str) -> str:
    """A mailbox name as one IMAP string (`Bounces/2026` or `Sent Items` alike)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(answer: list) -> str:
    return " ".join(a.decode(errors="replace") for a in answer if isinstance(a, bytes))


def _close_quietly(client: imaplib.IMAP4) -> None:
    try:
        if client.state == "SELECTED":
            client.close()
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        pass
