"""A person's data in their own hands: `subscribers add --topics/--cadence`, `import` with
choice columns, `export`, `show` (a subject access request), `erase` (nothing of the
address left in any table, in the SQLite file's bytes or in the outbox folder, and the
suppression list refusing it back), and the purge of sign-ups never confirmed."""

from __future__ import annotations

import binascii
import csv
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import prestart
import pytest
from postroom.content.intake import scan
from postroom.core.clock import clock_from_env
from postroom.core.config import DATABASE_URL_ENV
from postroom.core.selection import Selection
from postroom.emails.confirm import confirmation
from postroom.emails.issues import create_issue
from postroom.emails.transports import mail_file_name, transport_for
from postroom.emails.welcome import welcome
from postroom.scheduler import main
from postroom.service.command import Context
from postroom.service.jobs import Jobs
from postroom.store import Store
from postroom.store.bounces import Kind, Limits, Matched, record
from postroom.store.changes import EPOCH_NAME
from postroom.store.consent import Consent, How, entries, keep_wording
from postroom.store.outbox import Outbox
from postroom.store.rights import erase, purge_unconfirmed
from postroom.store.schema import SCHEMA_VERSION, consent_log, outbox, subscribers
from postroom.store.subscribers import Choice, Status, SubscriberList, Suppressed
from postroom.store.welcomes import claim_welcome
from sqlalchemy import inspect, select, update
from support import make_site, write

SECRET = "test-secret-that-is-long-enough"
SITE = (
    '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
    '[curator]\nemail = "curator@notes.example.org"\n'
    '[digest]\nmonthly = "first mon 07:00"\n'
)
POST = "---\ntitle: {title}\ndate: 2016-06-23\ntags: [{tag}]\n---\nBody of {title}.\n"
JANE = "Jane.Doe@example.org"  # the list keeps it so; the key is all lower case
KEY = JANE.lower()


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


def cli(site, *args: str) -> subprocess.CompletedProcess:
    """The command as a user runs it, in its own process (forked from a prestarted Python,
    tests/prestart.py)."""
    return prestart.postroom("--site", site.root, "subscribers", *args)


def run(site, capsys, *args: str) -> tuple[int, str, str]:
    """The same command line in this process (quicker): exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(["--site", str(site.root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def digest_site(tmp_path: Path):
    site = make_site(tmp_path / "site", config=SITE)
    for n, (title, tag) in enumerate([("Thresholds", "Policy"), ("Duty teams", "Practice")]):
        write(site.content_dir / f"p{n}.md", POST.format(title=title, tag=tag))
    return site


def test_add_with_topics_and_cadence_then_show_has_them_and_the_consent_event(tmp_path):
    site = digest_site(tmp_path)
    added = cli(site, "add", JANE, "--name", "Jane", "--topics", "Policy; Child Protection",
                "--cadence", "monthly")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"added: {JANE}")
    shown = cli(site, "show", JANE.upper(), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    person = record["subscriber"]
    assert person["address"] == JANE and person["status"] == "active"
    assert person["topics"] == ["child-protection", "policy"] and person["sources"] == []
    assert person["cadence"] == "monthly" and person["cadence_default"] is False
    [event] = record["consent"]
    assert event["event"] == "subscribed" and event["how"] == "cli"
    assert event["topics"] == ["child-protection", "policy"] and event["cadence"] == "monthly"
    assert record["digests"] == [] and record["suppressed"] is None
    # someone already on the list keeps their own choices, and is told so
    again = cli(site, "add", KEY, "--topics", "Practice")
    assert again.returncode == 0 and "their own topics and cadence are kept" in again.stdout
    assert json.loads(cli(site, "show", KEY, "--json").stdout)["subscriber"]["topics"] == [
        "child-protection",
        "policy",
    ]
    # the text form says the same things
    text = cli(site, "show", KEY).stdout
    assert "cadence:     monthly" in text and "subscribed how=cli" in text


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["add", "x@example.org", "--cadence", "daily"], 2, "cadence must be"),
        (["add", "nope"], 2, "nope"),
        (["show", "nobody@example.org"], 1, "not found"),
        (["erase", "nobody@example.org"], 1, "not found"),
        (["show", "nope"], 2, "nope"),
        (["erase", "a@b@c"], 2, "a@b@c"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(tmp_path, capsys, args, code, said):
    site = make_site(tmp_path, config=SITE)
    got, out, err = run(site, capsys, "subscribers", *args)
    assert got == code and said in err and one_line_error(err), err
    assert out == ""  # nothing said to have been done
    store = Store(site.store_url)
    assert SubscriberList(store).all() == []  # and nothing was: not even a suppression
    version = ("schema_version", "version", str(SCHEMA_VERSION))
    epoch = store.changes_since(None)[0]  # every database is made with its own (store.changes)
    made = [version, ("store_values", "name", EPOCH_NAME), ("store_values", "value", epoch)]
    assert sorted(_everything_in_the_database(store)) == sorted(made)
    store.close()


def test_monthly_is_refused_where_the_site_sends_none(tmp_path, capsys):
    site = make_site(tmp_path)
    code, _, err = run(site, capsys, "subscribers", "add", "x@example.org", "--cadence", "monthly")
    assert code == 2 and "digest.monthly" in err and one_line_error(err)


def test_import_reads_choice_columns_and_records_the_file_name(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    sheet = tmp_path / "spring-list.csv"
    sheet.write_text(
        "email,name,topics,cadence\n"
        "ann@example.org,Ann,Policy; Practice,weekly\n"
        "bob@example.org,Bob,,off\n"
        "cat@example.org,Cat,Policy,fortnightly\n"
    )
    code, out, err = run(site, capsys, "subscribers", "import", str(sheet))
    assert code == 1 and "2 added, 0 already there, 1 refused" in out
    assert "spring-list.csv:4:" in err and "cadence must be" in err
    code, out, _ = run(site, capsys, "subscribers", "show", "ann@example.org", "--json")
    ann = json.loads(out)
    assert ann["subscriber"]["topics"] == ["policy", "practice"]
    assert ann["subscriber"]["cadence"] == "weekly"
    [event] = ann["consent"]
    assert event["how"] == "import" and event["file"] == "spring-list.csv"
    bob = json.loads(run(site, capsys, "subscribers", "show", "bob@example.org", "--json")[1])
    assert bob["subscriber"]["topics"] == [] and bob["subscriber"]["cadence"] == "off"


def test_export_gives_everyone_with_status_topics_and_consent(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    assert run(site, capsys, "subscribers", "add", "ann@example.org", "--topics", "Policy")[0] == 0
    assert run(site, capsys, "subscribers", "add", "bob@example.org", "--name", "Bob")[0] == 0
    store = Store(site.store_url)
    SubscriberList(store).set_status("bob@example.org", Status.UNSUBSCRIBED, How.EMAIL)
    store.close()
    code, out, _ = run(site, capsys, "subscribers", "export", "--json")
    assert code == 0
    everyone = json.loads(out)
    assert run(site, capsys, "subscribers", "export")[1] == out  # JSON is the default
    assert [(p["address"], p["status"], p["topics"]) for p in everyone] == [
        ("ann@example.org", "active", ["policy"]),
        ("bob@example.org", "unsubscribed", []),
    ]
    assert everyone[0]["cadence"] == "weekly" and everyone[0]["cadence_default"] is True
    assert [(e["event"], e["how"]) for e in everyone[1]["consent"]] == [
        ("subscribed", "cli"),
        ("status", "email"),
    ]
    assert all(p["created_at"] and p["updated_at"] and "paused_until" in p for p in everyone)
    code, out, _ = run(site, capsys, "subscribers", "export", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["address"], r["status"], r["topics"]) for r in rows] == [
        ("ann@example.org", "active", "policy"),
        ("bob@example.org", "unsubscribed", ""),
    ]
    assert rows[1]["name"] == "Bob" and rows[0]["cadence"] == "weekly"
    assert "subscribed how=cli" in rows[1]["consent"] and "status how=email" in rows[1]["consent"]
    assert " | " in rows[1]["consent"]  # one column, the events in order


# --- erase ---


def _everything_in_the_database(store: Store) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value in every table, found by inspection:
    a table added later is searched too."""
    found = []
    with store.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        for name in names:
            columns = [c["name"] for c in inspect(conn).get_columns(name)]
            for row in conn.exec_driver_sql(f'SELECT * FROM "{name}"'):
                found += [(name, c, str(v)) for c, v in zip(columns, row, strict=True) if v]
    return found


def _mentions(store: Store, needle: str) -> list[tuple[str, str]]:
    return [(t, c) for t, c, v in _everything_in_the_database(store) if needle in v.lower()]


def _files_holding(folder: Path, needle: str) -> list[Path]:
    """Files whose bytes hold the address, raw or quoted-printable, any case."""
    return [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and any(
            needle.encode() in view.lower()
            for view in (path.read_bytes(), binascii.a2b_qp(path.read_bytes()))
        )
    ]


def _jane_everywhere(site, capsys) -> None:
    """Jane subscribed, welcomed, sent a digest (and a test copy) through the files
    transport, bounced once: her address in every table and mail folder there is."""
    store = Store(site.store_url)
    book = SubscriberList(store)
    book.add(JANE, "Jane", Status.PENDING, consent=Consent(How.FORM, wording_sha256="ab12"))
    book.add("bob@example.org", "Bob")
    jane = book.find(JANE)
    assert jane is not None
    now = datetime.now(UTC)
    transport = transport_for(site).connect()
    transport.send(confirmation(site, SECRET.encode(), jane, now))
    book.confirm(JANE, now - timedelta(minutes=1))
    assert claim_welcome(store, JANE, now)
    transport.send(welcome(site, SECRET.encode(), book.find(JANE), now))
    store.close()
    assert run(site, capsys, "digest", "send")[0] == 0
    assert run(site, capsys, "digest", "send", "--to", KEY)[0] == 0
    store = Store(site.store_url)
    with store.engine.begin() as conn:  # a server's reply quoting her address, as they do
        conn.execute(
            update(outbox)
            .where(outbox.c.subscriber_id == jane.id)
            .values(reply=f"250 2.0.0 <{JANE}> queued")
        )
    report = Matched("report-1", 1, jane.id, JANE, Kind.HARD, "5.1.1", f"<{KEY}>: no such user")
    assert record(store, report, Limits(1.0, 1.0), now) == (True, None)
    store.close()


def test_erase_leaves_nothing_of_the_address_in_any_table_or_mail_file(tmp_path, capsys):
    site = digest_site(tmp_path)
    _jane_everywhere(site, capsys)
    store = Store(site.store_url)
    before = _mentions(store, KEY)
    assert {t for t, _ in before} >= {
        "subscribers", "consent_log", "welcomes", "outbox", "bounce_reports", "bounce_suppressed",
    }  # fmt: skip
    outbox_folder = site.root / "outbox"
    assert {p.parent.name for p in _files_holding(outbox_folder, KEY)} == {
        "1", "confirm", "welcome", "test",
    }  # fmt: skip
    shown = json.loads(run(site, capsys, "subscribers", "show", KEY, "--json")[1])
    assert [d["issue"] for d in shown["digests"]] == [1] and shown["suppressed"] == "bounced"
    assert [b["kind"] for b in shown["bounce_reports"]] == ["hard"]
    assert ("status", "email") in [(e["event"], e.get("how")) for e in shown["consent"]]
    rows_before = _outbox_rows(store)
    store.close()

    code, out, err = run(site, capsys, "subscribers", "erase", JANE.upper())
    assert code == 0, err
    assert out.startswith(f"erased: {JANE.upper()}: their subscription,") and "4 mail files" in out

    store = Store(site.store_url)
    assert _mentions(store, KEY) == []
    assert _mentions(store, "jane") == []  # her name too
    assert _files_holding(outbox_folder, KEY) == []
    assert _files_holding(outbox_folder, "bob@example.org")  # Bob's digest stays
    # the ledger keeps its rows, so the issue's counts are what they were
    assert [(i, s) for i, s, _ in _outbox_rows(store)] == [(i, s) for i, s, _ in rows_before]
    assert [a for _, _, a in _outbox_rows(store)] == ["", "bob@example.org"]
    # and nobody brings her back: the CLI, an old import, the web form's own call
    code, _, err = run(site, capsys, "subscribers", "add", KEY)
    assert code == 2 and "on the suppression list" in err and "erased" not in err
    old = tmp_path / "old.csv"
    old.write_text(f"{JANE},Jane\ncarl@example.org,Carl\n")
    code, out, err = run(site, capsys, "subscribers", "import", str(old))
    assert code == 1 and "1 added" in out and "old.csv:1:" in err
    assert "on the suppression list" in err and "erased" not in err
    with pytest.raises(Suppressed):
        SubscriberList(store).add(JANE.lower(), "", Status.PENDING, rename=False)
    assert SubscriberList(store).find(JANE) is None
    assert _mentions(store, KEY) == []
    store.close()
    code, _, err = run(site, capsys, "subscribers", "show", KEY)
    assert code == 1 and "erased" in err and one_line_error(err)
    assert run(site, capsys, "subscribers", "erase", KEY)[1] == f"already erased: {KEY}\n"


def _outbox_rows(store: Store) -> list[tuple[int, int, str]]:
    with store.engine.connect() as conn:
        query = select(outbox.c.issue, outbox.c.subscriber_id, outbox.c.address)
        return [tuple(r) for r in conn.execute(query.order_by(outbox.c.subscriber_id))]


@pytest.mark.once
def test_erase_leaves_no_byte_of_the_address_in_the_sqlite_files(tmp_path, capsys, monkeypatch):
    """SQLite keeps a deleted row's bytes in free pages (and older copies of an updated
    row): the erase rebuilds the file and truncates the log. Read as raw bytes."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    site = digest_site(tmp_path)
    _jane_everywhere(site, capsys)
    database = site.root / "postroom.db"
    assert site.store_url.endswith(str(database))

    def raw() -> bytes:
        files = [database, *database.parent.glob("postroom.db-*")]
        return b"".join(f.read_bytes() for f in files if f.is_file()).lower()

    store = Store(site.store_url)  # a reader stays open beside the erase, as a server would
    for name in ("Jane Doe, a longer name this time", "J"):  # old copies of her row, freed
        with store.engine.begin() as conn:
            conn.execute(update(subscribers).values(name=name).where(subscribers.c.id == 1))
    assert KEY.encode() in raw()
    code, _, err = run(site, capsys, "subscribers", "erase", KEY)
    assert code == 0 and "warning" not in err
    assert KEY.encode() not in raw() and b"jane" not in raw()
    assert b"bob@example.org" in raw()  # the check can see what is there
    assert SubscriberList(store).find("bob@example.org") is not None
    store.close()


# --- the purge of sign-ups never confirmed ---


def test_the_service_deletes_sign_ups_unconfirmed_after_the_links_life(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    store = Store(site.store_url)
    book = SubscriberList(store)
    form = Consent(How.FORM, wording_sha256="ab12")
    ages = {"old@example.org": 8, "young@example.org": 6}
    for address in ages:
        book.add(address, status=Status.PENDING, consent=form)
    book.add("kept@example.org", consent=form)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        for address, days in [*ages.items(), ("kept@example.org", 30)]:
            then = (now - timedelta(days=days)).isoformat(timespec="microseconds")
            conn.execute(
                update(subscribers)
                .where(subscribers.c.address_key == address)
                .values(created_at=then, updated_at=then)
            )
    for address in ages:  # the confirmation the files transport kept
        found = book.find(address)
        transport_for(site).connect().send(confirmation(site, SECRET.encode(), found, now))
    confirm = site.root / "outbox" / "confirm"
    assert (confirm / mail_file_name("old@example.org")).is_file()

    jobs = Jobs(Context(site, store, clock_from_env()), None)
    assert jobs.purge() == 1
    assert [s.address for s in book.all()] == ["kept@example.org", "young@example.org"]
    assert _mentions(store, "old@example.org") == []  # the consent record too
    assert not (confirm / mail_file_name("old@example.org")).exists()
    assert (confirm / mail_file_name("young@example.org")).is_file()
    assert jobs.purge() == 0  # level-triggered: nothing twice

    # `run --once` purges too, and says so in one line
    with store.engine.begin() as conn:
        then = (now - timedelta(days=7, minutes=1)).isoformat(timespec="microseconds")
        conn.execute(
            update(subscribers).where(subscribers.c.status == "pending").values(updated_at=then)
        )
    store.close()
    code, out, _ = run(site, capsys, "run", "--once", "--no-send")
    assert code == 0
    [said] = [line for line in out.splitlines() if "unconfirmed" in line]
    assert "1 unconfirmed sign-up(s) deleted: their link expired" in said
    store = Store(site.store_url)
    assert [s.address for s in SubscriberList(store).all()] == ["kept@example.org"]
    store.close()


def test_a_purged_sign_up_takes_its_own_record_and_leaves_an_earlier_subscriptions(
    tmp_path, capsys
):
    site = make_site(tmp_path, config=SITE)
    assert run(site, capsys, "subscribers", "add", JANE)[0] == 0
    assert run(site, capsys, "subscribers", "remove", JANE)[0] == 0
    store = Store(site.store_url)
    book = SubscriberList(store)
    book.add(JANE, status=Status.PENDING, consent=Consent(How.FORM, wording_sha256="ab12"))
    later = (datetime.now(UTC) + timedelta(days=8)).isoformat(timespec="microseconds")
    with store.engine.begin() as conn:  # the sign-up's link lapsed: seen from 8 days on
        conn.execute(update(consent_log).where(consent_log.c.event == "subscribed",
                     consent_log.c.detail.contains("form")).values(at=later))  # fmt: skip
        conn.execute(update(subscribers).values(created_at=later, updated_at=later))
    assert purge_unconfirmed(store, datetime.now(UTC) + timedelta(days=9)) == [JANE]
    with store.engine.connect() as conn:
        kept = conn.execute(select(consent_log.c.event, consent_log.c.detail)).all()
    assert [event for event, _ in kept] == ["subscribed", "status"]  # by the CLI, then removed
    assert all('"how": "cli"' in detail for _, detail in kept)
    store.close()


def test_an_erase_while_a_row_is_in_flight_leaves_no_reply_quoting_the_address(tmp_path):
    """The sender had claimed the row (SMTP under way) when the erase ran; its refusal,
    which quotes the address, must not be written back into the blanked row."""
    site = digest_site(tmp_path)
    store = Store(site.store_url)
    SubscriberList(store).add(JANE)
    scan(site, store)
    now = datetime.now(UTC)
    issue = create_issue(site, store, now, now)
    assert issue is not None
    box = Outbox(store, "host:1")
    [claim] = [c for c in box.claim(issue.number, now, size=10) if c.address == JANE]
    erase(store, JANE, now)
    box.fail(claim, 550, f"550 5.1.1 <{JANE}>: Recipient address rejected", now)
    assert _mentions(store, KEY) == []
    store.close()


def test_the_consent_record_has_each_confirmation_and_a_returning_persons_new_request(
    tmp_path,
):
    """RETURNING gives the row after the change, so "was it active before?" read from it
    was never true: no confirmation was ever recorded. And someone who left and asked
    again by the form left no trace of that request, nor did their new topics count."""
    site = make_site(tmp_path, config=SITE)
    store = Store(site.store_url)
    book = SubscriberList(store)
    form = Consent(How.FORM, wording_sha256="ab12")
    book.add(JANE, status=Status.PENDING, consent=form, rejoin=True)
    assert book.confirm(JANE, datetime.now(UTC))
    reader = book.find(JANE)
    assert reader is not None
    assert book.set_preferences(reader.id, Selection(), None, "2099-01-01T00:00:00+00:00")
    assert book.set_status(JANE, Status.UNSUBSCRIBED, How.FORM)
    adoption = Choice(Selection.of(["Adoption"]))
    assert not book.add(JANE, status=Status.PENDING, consent=form, choice=adoption, rejoin=True)
    assert book.confirm(JANE, datetime.now(UTC))
    assert book.confirm(JANE, datetime.now(UTC))  # pressed twice: recorded once
    with store.engine.connect() as conn:
        events = [(e.event.value, e.detail.get("status")) for e in entries(conn, KEY)]
    assert events == [
        ("subscribed", "pending"),
        ("confirmed", None),
        ("preferences", None),
        ("status", "unsubscribed"),
        ("subscribed", "unsubscribed"),  # asked again, with the form's wording
        ("confirmed", None),
    ]
    reader = book.find(JANE)
    assert reader is not None and reader.selection == Selection(("adoption",), ())
    assert reader.paused_until == ""  # a pause from before they left does not hold them back
    store.close()


def test_an_export_imported_elsewhere_brings_back_nobody_who_left_nor_runs_a_formula(
    tmp_path, capsys
):
    old = make_site(tmp_path / "old", config=SITE)
    formula = '=HYPERLINK("http://evil.example/","Click")'
    assert run(old, capsys, "subscribers", "add", JANE, "--name", formula)[0] == 0
    assert run(old, capsys, "subscribers", "add", "gone@example.org")[0] == 0
    store = Store(old.store_url)
    SubscriberList(store).set_status("gone@example.org", Status.UNSUBSCRIBED)
    store.close()
    code, out, _ = run(old, capsys, "subscribers", "export", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows if r["address"] == JANE] == ["'" + formula]  # text
    exported = tmp_path / "export.csv"
    exported.write_text(out)
    for address in (JANE, "gone@example.org"):  # a list started again from the file
        assert run(old, capsys, "subscribers", "remove", address)[0] == 0
    code, out, err = run(old, capsys, "subscribers", "import", str(exported))
    assert code == 0 and "1 added" in out and "1 skipped (not active)" in out
    assert "gone@example.org: unsubscribed in the file: not added" in err
    store = Store(old.store_url)
    [jane] = SubscriberList(store).all()
    assert (jane.address, jane.name, jane.status) == (JANE, formula, Status.ACTIVE)
    store.close()


def test_add_takes_topics_given_twice_and_never_calls_someone_who_left_subscribed(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    args = ("subscribers", "add", JANE, "--topics", "Adoption", "--topics", "Fostering")
    code, out, _ = run(site, capsys, *args)
    assert code == 0 and "topic adoption, topic fostering" in out
    store = Store(site.store_url)
    SubscriberList(store).set_status(JANE, Status.UNSUBSCRIBED)
    store.close()
    code, out, _ = run(site, capsys, "subscribers", "add", JANE)
    assert code == 0 and out.strip() == f"already on the list, unsubscribed: status kept: {JANE}"


def test_import_finds_the_address_column_wherever_its_header_puts_it(tmp_path, capsys):
    """Mailchimp's export starts `Email Address,First Name,...`; other lists put the
    name first, or call topics `tags`."""
    site = make_site(tmp_path, config=SITE)
    listed = tmp_path / "list.csv"
    listed.write_text(
        "Full Name,Tags,Email Address\n"
        "Jane Doe,Adoption; Fostering,Jane.Doe@example.org\n"
        "Bob,,bob@example.org\n"
    )
    code, out, _ = run(site, capsys, "subscribers", "import", str(listed))
    assert code == 0 and out.startswith("2 added")
    store = Store(site.store_url)
    jane = SubscriberList(store).find(JANE)
    assert jane is not None and jane.name == "Jane Doe"
    assert jane.selection == Selection(("adoption", "fostering"), ())
    store.close()


def test_import_reads_other_lists_status_words_and_refuses_one_it_does_not_know(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    listed = tmp_path / "list.csv"
    listed.write_text(
        "First Name,Email Address,Status\n"
        "Zed,zed@example.org,subscribed\n"
        "Cleo,cleo@example.org,cleaned\n"
        "Odd,odd@example.org,maybe\n"
    )
    code, out, err = run(site, capsys, "subscribers", "import", str(listed))
    assert code == 1 and out.startswith("1 added") and "1 skipped" in out
    assert "list.csv:3: skipped: cleo@example.org: cleaned in the file" in err
    assert "list.csv:4: odd@example.org: status 'maybe' is not one of active" in err
    store = Store(site.store_url)
    [zed] = SubscriberList(store).all()
    assert (zed.address, zed.name) == ("zed@example.org", "Zed")
    store.close()


def test_show_prints_the_words_agreed_to_and_no_line_a_file_name_could_forge(tmp_path, capsys):
    site = make_site(tmp_path, config=SITE)
    store = Store(site.store_url)
    words = "Send me the weekly digest. I can unsubscribe at any time."
    form = Consent(How.FORM, wording_sha256=keep_wording(store, words))
    SubscriberList(store).add(JANE, status=Status.PENDING, consent=form)
    store.close()
    forged = tmp_path / "x\n  2026-01-01T00:00:00+00:00 confirmed how=form.csv"
    forged.write_text("bob@example.org\n")
    assert run(site, capsys, "subscribers", "import", str(forged))[0] == 0
    code, out, _ = run(site, capsys, "subscribers", "show", JANE)
    assert code == 0 and f"wording {form.wording_sha256[:12]}: {words}" in out
    code, out, _ = run(site, capsys, "subscribers", "show", "--json", JANE)
    assert json.loads(out)["wordings"] == {form.wording_sha256: words}
    code, out, _ = run(site, capsys, "subscribers", "show", "bob@example.org")
    assert not any(line.lstrip().startswith("2026-01-01") for line in out.splitlines())


def test_a_refusal_for_an_erased_row_marks_nobody_bounced(tmp_path):
    """The sender's 5xx came after the erase had taken the row: marking "the row's
    subscriber" bounced then hit whoever SQLite gave the freed id to next."""
    site = digest_site(tmp_path)
    store = Store(site.store_url)
    book = SubscriberList(store)
    book.add(JANE)
    scan(site, store)
    now = datetime.now(UTC)
    issue = create_issue(site, store, now, now)
    assert issue is not None
    box = Outbox(store, "host:1")
    [claim] = box.claim(issue.number, now, size=10)
    erase(store, JANE, now)
    book.add("next@example.org")  # on SQLite, the erased reader's id again
    box.bounce(claim, 550, "550 5.1.1 no such user", now)
    assert book.find("next@example.org").status is Status.ACTIVE
    store.close()
