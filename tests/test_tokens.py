"""Signed tokens, in the library and through the CLI: opaque ones (the subscriber's id,
no address) and those of the old format, still good for their lifetime."""

import base64
import os

import prestart
import pytest
from postroom.emails.tokens import Purpose, TokenError, make_token, read_token, secret_from_env
from postroom.store import Store
from postroom.store.subscribers import Status, SubscriberList
from support import legacy_token, make_site

SECRET = b"a-test-secret-that-is-long-enough"
LIST = {7: "jane@example.org", 8: "other@example.org", 300_000: "many@example.org"}
# Minted by c6e6512's emails.tokens.make_token(SECRET, purpose, "jane@example.org", 1764000000)
OLD_UNSUBSCRIBE = (
    "eyJhIjoiamFuZUBleGFtcGxlLm9yZyIsInAiOiJ1bnN1YnNjcmliZSIsInQiOjE3NjQwMDAwMDB9"
    ".6JvRPGCqFtu6yN1dr5a0Ym1w0XHiKcY63KC6iJcGrsk"
)
OLD_CONFIRM = (
    "eyJhIjoiamFuZUBleGFtcGxlLm9yZyIsInAiOiJjb25maXJtIiwidCI6MTc2NDAwMDAwMH0"
    ".olSH27cT_1-8ZFGJ5jxZuGb3RQ5lBGYOndgZkHPhvVQ"
)


def read(token: str, purpose=Purpose.UNSUBSCRIBE, **kwargs):
    return read_token(SECRET, token, purpose, LIST.get, **kwargs)


def test_a_token_names_its_subscriber_and_purpose_and_is_the_same_every_time():
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 7, "jane@example.org", issued=1764000000)
    holder = read(token)
    assert (holder.address, holder.subscriber_id, holder.issued) == (
        "jane@example.org",
        7,
        1764000000,
    )
    assert token == make_token(SECRET, Purpose.UNSUBSCRIBE, 7, "Jane@Example.org", 1764000000)
    big = make_token(SECRET, Purpose.UNSUBSCRIBE, 300_000, "many@example.org")
    assert read(big).address == "many@example.org"


def test_the_token_is_opaque_short_and_url_safe():
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 1234, "jane@example.org", 1764000000)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (b"jane@example.org", b"jane", b"example.org", b"amFuZ"):
        assert secret not in raw and secret.decode() not in token
    assert len(token) == 32 and len(OLD_UNSUBSCRIBE) == 120  # a 4-digit id: 32 for 120
    assert token.replace("-", "").replace("_", "").isalnum()  # base64url, no padding


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered signature
        lambda t: t[:8] + ("A" if t[8] != "A" else "B") + t[9:],  # altered id / time
        lambda t: make_token(SECRET, Purpose.UNSUBSCRIBE, 8, "jane@example.org"),  # id 8 is other
        lambda t: make_token(b"someone-elses-secret-key", Purpose.UNSUBSCRIBE, 7, LIST[7]),
        lambda t: make_token(SECRET, Purpose.UNSUBSCRIBE, 9, "gone@example.org"),  # not listed
        lambda t: t + "A",
        lambda t: t[:10] + "+" + t[10:],  # a character base64url has not
        lambda t: "garbage",
        lambda t: "",
        lambda t: OLD_UNSUBSCRIBE.split(".")[0] + "." + t,  # an old payload, another signature
        lambda t: legacy_token(SECRET, "unsubscribe", "x@example.org", 1)[:-3] + "abc",
    ],
)
def test_altered_forged_and_garbage_tokens_are_refused(tamper):
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 7, "jane@example.org")
    with pytest.raises(TokenError, match="not valid"):
        read(tamper(token))


def test_a_link_for_someone_removed_never_acts_on_whoever_gets_their_id_next():
    token = make_token(SECRET, Purpose.CONFIRM, 7, "jane@example.org")
    with pytest.raises(TokenError, match="not valid"):
        read_token(SECRET, token, Purpose.CONFIRM, {7: "newcomer@example.org"}.get)


def test_a_token_for_another_purpose_is_refused_and_age_is_checked_when_asked():
    confirm = make_token(SECRET, Purpose.CONFIRM, 7, "jane@example.org", issued=1000)
    with pytest.raises(TokenError, match="not for this"):
        read(confirm)
    assert read(confirm, Purpose.CONFIRM, max_age=60, now=1050)
    with pytest.raises(TokenError, match="expired"):
        read(confirm, Purpose.CONFIRM, max_age=60, now=1061)


def test_old_tokens_stay_good_for_their_lifetime():
    assert legacy_token(SECRET, "unsubscribe", "jane@example.org", 1764000000) == OLD_UNSUBSCRIBE
    holder = read(OLD_UNSUBSCRIBE, now=2_000_000_000)  # unsubscribe links never expire
    assert (holder.address, holder.subscriber_id, holder.issued) == (
        "jane@example.org",
        None,
        1764000000,
    )
    week = 7 * 24 * 3600
    assert read(OLD_CONFIRM, Purpose.CONFIRM, max_age=week, now=1764000000 + week).address
    with pytest.raises(TokenError, match="expired"):
        read(OLD_CONFIRM, Purpose.CONFIRM, max_age=week, now=1764000001 + week)
    with pytest.raises(TokenError, match="not for this"):
        read(OLD_CONFIRM)


def test_the_secret_must_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("POSTROOM_SECRET", raising=False)
    with pytest.raises(TokenError, match="POSTROOM_SECRET"):
        secret_from_env()
    monkeypatch.setenv("POSTROOM_SECRET", "short")
    with pytest.raises(TokenError):
        secret_from_env()


def test_cli_unsubscribe_with_a_new_or_an_old_token(tmp_path):
    site = make_site(tmp_path)
    store = Store(site.store_url)
    book = SubscriberList(store)
    book.add("jane@example.org")
    book.add("joe@example.org")
    env = {**os.environ, "POSTROOM_SECRET": SECRET.decode()}

    def unsubscribe(token):
        # its own process, forked from a prestarted Python (tests/prestart.py)
        return prestart.postroom(
            "--site", site.root, "subscribers", "unsubscribe", "--token", token, env=env
        )

    jane = book.find("jane@example.org")
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, jane.id, jane.address)
    forged = unsubscribe(token[:-3] + "abc")
    assert forged.returncode == 2 and "not valid" in forged.stderr
    assert book.find("jane@example.org").status is Status.ACTIVE
    done = unsubscribe(token)
    assert done.returncode == 0 and "unsubscribed: jane@example.org" in done.stdout
    assert book.find("jane@example.org").status is Status.UNSUBSCRIBED
    assert unsubscribe(token).returncode == 0  # idempotent
    old = legacy_token(SECRET, "unsubscribe", "joe@example.org", 1764000000)
    assert unsubscribe(old).returncode == 0
    assert book.find("joe@example.org").status is Status.UNSUBSCRIBED
    store.close()
