"""Signed unsubscribe tokens, in the library and through the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from postroom.emails.tokens import TokenError, make_token, read_token, secret_from_env
from postroom.store import Store
from postroom.store.subscribers import Status, SubscriberList
from support import make_site

SECRET = b"a-test-secret-that-is-long-enough"
POSTROOM = Path(sys.executable).with_name("postroom")


def test_a_token_names_its_address_and_purpose():
    token = make_token(SECRET, "unsubscribe", "jane@example.org")
    assert read_token(SECRET, token, "unsubscribe") == "jane@example.org"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered signature
        lambda t: (
            make_token(SECRET, "unsubscribe", "other@example.org").split(".")[0]
            + "."
            + t.split(".")[1]
        ),  # another address under this signature
        lambda t: make_token(b"someone-elses-secret-key", "unsubscribe", "jane@example.org"),
        lambda t: "garbage",
        lambda t: "",
    ],
)
def test_altered_forged_and_garbage_tokens_are_refused(tamper):
    token = make_token(SECRET, "unsubscribe", "jane@example.org")
    with pytest.raises(TokenError):
        read_token(SECRET, tamper(token), "unsubscribe")


def test_a_token_for_another_purpose_is_refused_and_age_is_checked_when_asked():
    confirm = make_token(SECRET, "confirm", "jane@example.org", issued=1000)
    with pytest.raises(TokenError, match="not for this"):
        read_token(SECRET, confirm, "unsubscribe")
    assert read_token(SECRET, confirm, "confirm", max_age=60, now=1050)
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, confirm, "confirm", max_age=60, now=1061)


def test_the_secret_must_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("POSTROOM_SECRET", raising=False)
    with pytest.raises(TokenError, match="POSTROOM_SECRET"):
        secret_from_env()
    monkeypatch.setenv("POSTROOM_SECRET", "short")
    with pytest.raises(TokenError):
        secret_from_env()


def test_cli_unsubscribe_with_token(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    book = SubscriberList(store)
    book.add("jane@example.org")
    env = {**os.environ, "POSTROOM_SECRET": SECRET.decode()}

    def unsubscribe(token):
        return subprocess.run(
            [POSTROOM, "--site", site.root, "subscribers", "unsubscribe", "--token", token],
            capture_output=True,
            text=True,
            env=env,
        )

    token = make_token(SECRET, "unsubscribe", "jane@example.org")
    forged = unsubscribe(token[:-3] + "abc")
    assert forged.returncode == 2 and "not valid" in forged.stderr
    assert book.all()[0].status is Status.ACTIVE
    assert unsubscribe(token).returncode == 0
    assert book.all()[0].status is Status.UNSUBSCRIBED
    assert unsubscribe(token).returncode == 0  # idempotent
    store.close()
