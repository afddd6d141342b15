"""The subscriber list on a real SQLite file, and its CLI."""

import json

import prestart
import pytest
from postroom.store import Store
from postroom.store.subscribers import AddressError, Status, SubscriberList, normalize_address
from support import make_site


@pytest.fixture
def book(tmp_path):
    store = Store(make_site(tmp_path).store_url)
    yield SubscriberList(store)
    store.close()


def test_addresses_are_normalised_and_header_breaking_ones_refused():
    assert normalize_address(" Jane.Doe@Example.ORG ") == "Jane.Doe@example.org"
    for bad in ("no-at-sign", "a@b.co\r\nBcc: victim@example.org", "x@", "x@localhost"):
        with pytest.raises(AddressError):
            normalize_address(bad)


def test_duplicates_merge_and_never_resubscribe(book):
    assert book.add("jane@example.org", "Jane")
    assert not book.add("jane@EXAMPLE.org", "Jane Doe")
    [jane] = book.all()
    assert jane.name == "Jane Doe" and jane.status is Status.ACTIVE
    with book.engine.begin() as conn:  # she unsubscribes (the web issue will do this)
        conn.exec_driver_sql("UPDATE subscribers SET status = 'unsubscribed'")
    assert not book.add("jane@example.org")
    assert book.all()[0].status is Status.UNSUBSCRIBED


def test_names_cannot_carry_line_breaks(book):
    book.add("sam@example.org", "Sam\r\nBcc: victim@example.org")
    assert book.all()[0].name == "Sam Bcc: victim@example.org"


def test_import_reports_bad_rows_by_line_and_imports_the_rest(book, tmp_path):
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "email,name\n"
        "a@example.org,Ann\n"
        "not an address,Bob\n"
        "\n"
        "A@Example.org,Ann again\n"
        "c@example.org\n",
        encoding="utf-8",
    )
    report = book.import_csv(csv_file)
    assert (report.added, report.merged) == (2, 1)
    assert [line for line, _ in report.errors] == [3]
    assert {s.address for s in book.all()} == {"a@example.org", "c@example.org"}


def test_an_import_records_consent_in_a_statement_a_chunk(book, tmp_path):
    """20,000 addresses are a few statements, not 20,000 round trips; each still gets its
    own consent entry with its own choice."""
    from postroom.store.consent import entries
    from sqlalchemy import event

    csv_file = tmp_path / "list.csv"
    rows = [f"r{n}@example.org,R {n},{'a' if n % 2 else 'b'}" for n in range(2500)]
    csv_file.write_text("email,name,topics\n" + "\n".join(rows) + "\n", encoding="utf-8")
    inserts: list[str] = []

    def seen(conn, cursor, statement, *_):
        if statement.startswith("INSERT INTO consent_log"):
            inserts.append(statement)

    event.listen(book.engine, "before_cursor_execute", seen)
    try:
        assert book.import_csv(csv_file).added == 2500
    finally:
        event.remove(book.engine, "before_cursor_execute", seen)
    assert len(inserts) == 3  # a thousand rows a transaction
    with book.engine.connect() as conn:
        [odd] = entries(conn, "r7@example.org")
        [even] = entries(conn, "r8@example.org")
    assert odd.detail["topics"] != even.detail["topics"]


def test_remove(book):
    book.add("a@example.org")
    assert book.remove("A@example.org") and not book.remove("a@example.org")
    assert book.all() == []


def test_subscribers_cli(tmp_path):
    site = make_site(tmp_path)

    def run(*args):
        return prestart.postroom("--site", site.root, "subscribers", *args)  # its own process

    assert run("add", "Jane@Example.org", "--name", "Jane").returncode == 0
    bad = run("add", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "more.csv").write_text("b@example.org,Bo\nbroken\n")
    imported = run("import", tmp_path / "more.csv")
    assert imported.returncode == 1 and "more.csv:2:" in imported.stderr
    listing = json.loads(run("list", "--json").stdout)
    assert [(s["address"], s["status"]) for s in listing] == [
        ("Jane@example.org", "active"),
        ("b@example.org", "active"),
    ]
    assert run("remove", "b@example.org").returncode == 0
    assert run("remove", "b@example.org").returncode == 1
