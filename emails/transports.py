"""Where messages go: files in the site's outbox (the default), an SMTP server, or
any transport registered by name.

A transport opens connections; a connection sends one envelope at a time and
says how it ended: the server's reply on success, `Rejected` (with the code,
4xx temporary, 5xx permanent, and whether the recipient was refused), or
`Unreachable` when the connection is gone and the message's fate unknown.

`mail.transport` picks one by name among those registered with
`@register_transport(name, schema)`; a transport's own settings are its table,
`[mail.<name>]`, read into `schema` (a frozen dataclass) and checked with the rest
of the config, then handed to its factory.
"""

from __future__ import annotations

import binascii
import contextlib
import email
import hashlib
import html
import os
import smtplib
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, Protocol

from postroom.core.config import (
    CONFIG_NAME,
    ConfigError,
    Security,
    Site,
    register_transport_section,
    unregister_transport_section,
)
from postroom.emails.message import PLAIN_ADDRESS, Envelope, smtp_wire, spellings
from postroom.feeds.writer import write_atomic


class Rejected(Exception):
    """A message not taken. `stage` is where: "mail", "rcpt" or "data" (the server's
    reply), or LOCAL when it was never offered, this side knowing the server could not
    take it: no fault of the recipient's, so it never marks them bounced."""

    LOCAL = "local"

    def __init__(self, code: int, reply: str, stage: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code, self.reply, self.stage = code, reply, stage

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class Unreachable(Exception):
    """The server cannot be reached, or dropped the connection."""


class Connection(Protocol):
    def send(self, envelope: Envelope) -> str: ...

    def close(self) -> None: ...


class Transport(Protocol):
    description: str

    def connect(self) -> Connection: ...


def mail_file_name(address: str) -> str:
    """A file name for mail to `address`: a hash, since "/" is legal before the "@" and an
    address must never choose where a file is written."""
    return hashlib.sha256(address.lower().encode()).hexdigest()[:32] + ".eml"


class FileTransport:
    """Writes `outbox/<issue>/<subscriber id>.eml`, atomically; needs nothing else."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"files in {folder}"

    def connect(self) -> FileTransport:
        return self

    def send(self, envelope: Envelope) -> str:
        if envelope.kind != "digest":  # the latest confirmation request per address
            path = self.folder / envelope.kind / mail_file_name(envelope.recipient)
        elif envelope.subscriber_id:
            path = self.folder / str(envelope.issue) / f"{envelope.subscriber_id}.eml"
        else:  # a test copy: beside the issue's, never mistaken for one of them
            path = self.folder / "test" / f"{envelope.issue}-{mail_file_name(envelope.recipient)}"
        write_atomic(path, envelope.data)
        return f"250 written {path}"

    def close(self) -> None:
        pass


def forget_files(folder: Path, address: str, ledger: Iterable[tuple[int, int]] = ()) -> list[Path]:
    """Delete every file the files transport wrote for `address` under `folder` (the
    site's outbox/): by name (each digest of the `ledger`'s (issue, subscriber id)
    rows, the confirmation, welcome and test copies named by its hash) and by content
    (any other file that holds the address in any case, as the list keeps it or with its
    domain's A-labels, raw, quoted-printable, base64 or HTML-escaped). The files
    deleted; a folder that is not there holds none."""
    if not folder.is_dir():
        return []
    named = {folder / str(issue) / f"{sid}.eml" for issue, sid in ledger}
    hashed = mail_file_name(address)
    names = spellings(address)
    gone = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path in named or path.name.endswith(hashed) or _holds(path, names):
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


def _holds(path: Path, spellings: set[str]) -> bool:
    """Whether a mail file holds one of the spellings, however its parts are encoded."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    views = [data, binascii.a2b_qp(data)]  # quoted-printable: soft breaks and =XX undone
    if b"base64" in data.lower():
        message = email.message_from_bytes(data)
        for part in message.walk():
            payload = None if part.is_multipart() else part.get_payload(decode=True)
            if isinstance(payload, bytes):
                views.append(payload)
    for view in views:
        text = view.decode("utf-8", errors="replace").lower()
        escaped = {html.escape(s).replace("&#x27;", "&#39;") for s in spellings}  # Jinja's
        if any(s in text for s in spellings | escaped):
            return True
    return False


def _reply(message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


def quoted(address: str) -> str:
    """What smtplib's `quoteaddr` makes of an envelope address, `<address>` for a plain one
    without its parse (parsing the same two addresses was a tenth of a message's CPU)."""
    return f"<{address}>" if PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


class SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def _step(self, reply: tuple[int, bytes], stage: str, ok: tuple[int, ...]) -> str:
        code, message = reply
        if code in ok:
            return f"{code} {_reply(message)}"
        self._refused(code, message, stage)

    def _refused(self, code: int, message: bytes, stage: str) -> NoReturn:
        if code == 421 or code == -1:  # the server is closing the connection
            raise Unreachable(f"{stage}: {code} {_reply(message)}")
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.smtp.rset()
        raise Rejected(code, _reply(message), stage)

    def send(self, envelope: Envelope) -> str:
        options = ["SMTPUTF8"] if envelope.needs_smtputf8 else []
        if options and not self.smtp.has_extn("smtputf8"):  # RFC 6531's own reply for it
            raise Rejected(
                553,
                f"5.6.7 {envelope.recipient}: an address with a non-ASCII local part needs"
                " SMTPUTF8, which this server does not offer",
                Rejected.LOCAL,
            )
        smtp = self.smtp
        # the commands smtplib's mail(), rcpt() and data() send, byte for byte, with the
        # addresses quoted cheaply and the message already dot-stuffed and ended (the
        # issue's pieces once for all its readers: emails.message)
        if options and smtp.does_esmtp:
            smtp.command_encoding = "utf-8"  # as mail() does for SMTPUTF8 (reset by RSET)
        parameters = " SMTPUTF8" if options and smtp.does_esmtp else ""
        try:
            smtp.putcmd("mail", f"FROM:{quoted(envelope.sender)}{parameters}")
            self._step(smtp.getreply(), "mail", (250,))
            smtp.putcmd("rcpt", f"TO:{quoted(envelope.recipient)}")
            self._step(smtp.getreply(), "rcpt", (250, 251))
            smtp.putcmd("data")
            self._step(smtp.getreply(), "data", (354,))  # DATA itself refused
            smtp.send(envelope.wire or smtp_wire(envelope.data))
            return self._step(smtp.getreply(), "data", (250,))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise Unreachable(str(exc) or type(exc).__name__) from None

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


class SmtpTransport:
    def __init__(self, site: Site) -> None:
        self.mail = site.config.mail
        self.password = ""
        if self.mail.username:
            self.password = os.environ.get(self.mail.password_env, "")
            if not self.password:
                raise ConfigError(
                    f"mail.username is set: put the SMTP password in ${self.mail.password_env}"
                )
        self.description = f"SMTP {self.mail.host}:{self.mail.port} ({self.mail.security})"

    def connect(self) -> SmtpConnection:
        mail = self.mail
        try:
            if mail.security is Security.TLS:
                context = ssl.create_default_context()
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    mail.host, mail.port, timeout=mail.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
                if mail.security is Security.STARTTLS:
                    smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo_or_helo_if_needed()
            if mail.username:
                smtp.login(mail.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            reason = f"{exc.smtp_code} {_reply(exc.smtp_error)}"
            raise ConfigError(f"SMTP login refused: {reason}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Unreachable(f"{self.description}: {exc}") from None
        return SmtpConnection(smtp)


# (site, its [mail.<name>] table read into its schema, or None) -> the transport
TransportFactory = Callable[[Site, Any], Transport]
_FACTORIES: dict[str, TransportFactory] = {}


def register_transport(
    name: str, schema: type | None = None
) -> Callable[[TransportFactory], TransportFactory]:
    """Make the decorated factory the transport `mail.transport = "<name>"` picks, with
    `schema` the keys of its table `[mail.<name>]` (every field with a default). The
    module that registers must be imported before a config naming it is read."""

    def register(factory: TransportFactory) -> TransportFactory:
        register_transport_section(name, schema)
        _FACTORIES[name] = factory
        return factory

    return register


def unregister_transport(name: str) -> None:
    _FACTORIES.pop(name, None)
    unregister_transport_section(name)


@register_transport("files")
def _files(site: Site, table: None) -> Transport:
    return FileTransport(site.root / "outbox")


@register_transport("smtp")
def _smtp(site: Site, table: None) -> Transport:
    return SmtpTransport(site)  # its settings are [mail]'s own keys, where sites have them


def transport_for(site: Site) -> Transport:
    """The transport `mail.transport` names, made from its table."""
    mail = site.config.mail
    factory = _FACTORIES.get(mail.transport)
    if factory is None:  # registered with the config alone, or unregistered since it was read
        allowed = ", ".join(_FACTORIES)
        raise ConfigError(
            f"{site.root / CONFIG_NAME}: 'mail.transport' must be one of {allowed},"
            f" not {mail.transport!r}"
        )
    return factory(site, mail.table(mail.transport))
