"""A real IMAP server for tests: Debian's Dovecot on 127.0.0.1, started by the test.

Everything lives in a temporary folder: the config, a passwd-file with one user
(`bounces`, password in PASSWORD), the user's Maildir, Dovecot's sockets and log. It
listens on a free unprivileged port, plain IMAP (no TLS: the test mailbox is local).
Started as root, its processes run as Debian's `dovecot`/`dovenull` users and the mail
as `dovecot` (Dovecot refuses mail access as UID 0); otherwise all as the caller.
`dovecot` missing is a failure, never a skip (tests/setup installs dovecot-imapd).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from smtp_sink import free_port

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "imap-test-password"
_START_SECONDS = 20.0


class Dovecot:
    """The server, in a folder of its own under /tmp (not pytest's tmp_path: as root,
    Dovecot's processes run as other users, who must reach their files through every
    folder above them), removed when it stops."""

    def __init__(self) -> None:
        if not os.access(DOVECOT, os.X_OK):
            raise RuntimeError(
                f"{DOVECOT} is missing: apt-get install dovecot-imapd (tests/setup does)"
            )
        self.folder = Path(tempfile.mkdtemp(prefix="postroom-dovecot-"))
        self.port = free_port()
        self.maildir = self.folder / "mail" / USER
        self.config = self.folder / "dovecot.conf"
        self.log = self.folder / "dovecot.log"
        self.process: subprocess.Popen | None = None

    def _users(self) -> tuple[str, str, int, int]:
        """(internal user, login user, mail uid, mail gid)."""
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, os.geteuid(), os.getegid()

    def _write_config(self) -> None:
        internal, login, uid, gid = self._users()
        group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
        for sub in ("run", "state", "mail", "home"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("mail", "home"):
            shutil.chown(self.folder / sub, uid, gid)
        self.folder.chmod(0o755)
        (self.folder / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{self.folder / 'home'}::\n"
        )
        self.config.write_text(
            f"""\
base_dir = {self.folder / "run"}
state_dir = {self.folder / "state"}
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{self.folder / "mail"}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.folder / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.folder / "passwd"}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
        )

    def __enter__(self) -> Dovecot:
        self._write_config()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + _START_SECONDS
        while True:  # until it answers the IMAP greeting, or dies
            if self.process.poll() is not None:
                said = self.process.stdout.read() if self.process.stdout else b""
                out = said.decode(errors="replace")
                raise RuntimeError(f"dovecot exited {self.process.returncode}: {out}{self._log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    why = f"dovecot did not listen in {_START_SECONDS} s{self._log()}"
                    raise RuntimeError(why) from None
                time.sleep(0.05)

    def _log(self) -> str:
        return f"\n{self.log.read_text()}" if self.log.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, data: bytes, mailbox: str = "INBOX") -> None:
        """Put a message in the user's mailbox, as an MTA's delivery would (IMAP APPEND)."""
        client = self.client()
        try:
            kind, answer = client.append(mailbox, "", imaplib.Time2Internaldate(time.time()), data)
            assert kind == "OK", answer
        finally:
            client.logout()

    def unseen(self, mailbox: str = "INBOX") -> int:
        client = self.client()
        try:
            client.select(mailbox)
            _, answer = client.search(None, "UNSEEN")
            return len(answer[0].split())
        finally:
            client.logout()

    def config_toml(self, mailbox: str = "INBOX") -> str:
        """The [bounces] section pointing a site at this server (password from the env)."""
        return (
            f'[bounces]\nimap_host = "127.0.0.1"\nimap_port = {self.port}\n'
            f'imap_security = "none"\nimap_user = "{USER}"\n'
            f'imap_password_env = "TEST_IMAP_PASSWORD"\nmailbox = "{mailbox}"\n'
        )
