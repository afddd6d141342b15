"""The three places a plugin extends postroom, each used as a plugin would use it:
a reader registered for a new extension, a transport registered by name with its
own config table, and a receiver of `post_published`. Each test takes back what it
registered, so the rest of the suite sees the built-ins alone."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from postroom.content.intake import _PARALLEL_FROM, scan
from postroom.content.readers import FileText, Parsed, register_reader, unregister_reader
from postroom.core.config import ConfigError, register_transport_section
from postroom.core.model import Attribution, ParsedPost, ReadError, Severity
from postroom.core.signals import post_published
from postroom.emails.transports import (
    FileTransport,
    Transport,
    register_transport,
    transport_for,
    unregister_transport,
)
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.subscribers import SubscriberList
from support import make_site, write

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BASE = '[site]\nbase_url = "https://notes.example.org/"\n'
MD = "---\ntitle: {title}\ndate: 2021-07-23\n---\nText of {title}.\n"


# --- readers -------------------------------------------------------------------------


def read_rst(file: FileText) -> Parsed:
    """A toy reStructuredText reader: the title is the line over the first '=' rule."""
    lines = file.text.splitlines()
    rule = next((n for n, line in enumerate(lines) if n and set(line) == {"="}), None)
    if rule is None:
        raise ReadError("no title: underline one with '='")
    title, body = lines[rule - 1].strip(), " ".join(lines[rule + 1 :]).strip()
    post = ParsedPost(title, None, None, f"<p>{body}</p>", body, Attribution(source="Notes"))
    return Parsed((post,), ("read by the test's reader",))


def rst(title: str) -> str:
    return f"{title}\n{'=' * len(title)}\n\nSome text.\n"


@pytest.fixture
def rst_reader():
    register_reader(".rst")(read_rst)
    yield read_rst
    unregister_reader(".rst")


def test_a_reader_registered_for_an_extension_makes_its_files_posts(tmp_path):
    site = make_site(tmp_path, {"notes/one.rst": rst("Reading in rst"), "bad.rst": "no rule\n"})
    store = Store(site.store_url)
    try:
        assert scan(site, store, T0).files == 0  # nobody reads .rst yet: not content
        register_reader(".rst")(read_rst)
        try:
            report = scan(site, store, T0 + timedelta(hours=1))
            [post] = store.posts()
            assert post.title == "Reading in rst" and post.files == ("notes/one.rst",)
            assert post.attribution.source == "Notes" and "Some text." in post.body_html
            shown = {(p.file, p.severity, p.reason) for p in report.problems}
            assert ("bad.rst", Severity.ERROR, "no title: underline one with '='") in shown
            assert ("notes/one.rst", Severity.WARNING, "read by the test's reader") in shown
        finally:
            unregister_reader(".rst")
        again = scan(site, store, T0 + timedelta(hours=2))  # no reader: no longer content
        assert again.files == 0 and again.withdrawn == (post.id,)
    finally:
        store.close()


def test_a_registered_reader_also_reads_a_cold_start_in_worker_processes(tmp_path, rst_reader):
    files = {f"bulk/{i:04d}.rst": rst(f"Post {i}") for i in range(_PARALLEL_FROM)}
    site = make_site(tmp_path, files)
    store = Store(site.store_url)
    try:
        report = scan(site, store, T0)  # the reader travels to the workers by name
        assert report.parsed == _PARALLEL_FROM and len(report.new) == _PARALLEL_FROM
        assert {p.title for p in store.posts()} == {f"Post {i}" for i in range(_PARALLEL_FROM)}
    finally:
        store.close()


def test_a_reader_that_cannot_travel_to_a_worker_reads_its_files_here(tmp_path):
    files = {f"bulk/{i:04d}.note": f"Note {i}" for i in range(_PARALLEL_FROM)}
    site = make_site(tmp_path, files)
    store = Store(site.store_url)
    register_reader(".note")(
        lambda file: Parsed((ParsedPost(file.text, None, None, "<p>x</p>", "x", Attribution()),))
    )
    try:
        report = scan(site, store, T0)
        assert report.parsed == _PARALLEL_FROM and len(report.new) == _PARALLEL_FROM
        assert not [p for p in report.problems if p.severity is Severity.ERROR]
    finally:
        unregister_reader(".note")
        store.close()


# --- transports ----------------------------------------------------------------------


@dataclass(frozen=True)
class FolderTable:
    """[mail.folder]: where the test's transport writes."""

    folder: str = "sent"
    copies: int = 1

    def __post_init__(self) -> None:
        if self.copies != 1:
            raise ValueError("only one copy is written")


@pytest.fixture
def folder_transport():
    @register_transport("folder", FolderTable)
    def make(site, table: FolderTable) -> Transport:
        return FileTransport(site.root / table.folder)

    yield make
    unregister_transport("folder")


def test_a_transport_registered_by_name_is_chosen_with_its_own_table(
    tmp_path, monkeypatch, folder_transport
):
    monkeypatch.setenv("POSTROOM_SECRET", "test-secret-that-is-long-enough")
    config = BASE + '[mail]\ntransport = "folder"\n[mail.folder]\nfolder = "kept"\n'
    site = make_site(tmp_path, {"one.md": MD.format(title="Posted")}, config=config)
    assert site.config.mail.table("folder") == FolderTable(folder="kept")
    store = Store(site.store_url)
    try:
        for address in ("ann@example.org", "bob@example.org"):
            SubscriberList(store).add(address)
    finally:
        store.close()
    assert main(["--site", str(site.root), "digest", "send"]) == 0
    assert len(list((site.root / "kept" / "1").glob("*.eml"))) == 2
    assert not (site.root / "outbox" / "1").exists()


def test_a_transport_with_no_table_in_the_file_gets_its_defaults(tmp_path, folder_transport):
    site = make_site(tmp_path, config=BASE + '[mail]\ntransport = "folder"\n')
    transport = transport_for(site)
    assert isinstance(transport, FileTransport) and transport.folder == site.root / "sent"


@pytest.mark.nostore
@pytest.mark.parametrize(
    ("mail", "message"),
    [
        (
            'transport = "pigeon"',
            "'mail.transport' must be one of files, smtp, folder, not 'pigeon'",
        ),
        ('[mail.folder]\ncolour = "red"', "unknown key 'mail.folder.colour'"),
        ("[mail.folder]\nfolder = 3", "'mail.folder.folder' must be str, not int"),
        ("[mail.folder]\ncopies = 2", "[mail.folder] only one copy is written"),
        ('[mail.pigeon]\nloft = "roof"', "unknown key 'mail.pigeon'"),
        ('[mail.smtp]\nhost = "x"', "unknown key 'mail.smtp'"),  # smtp's keys are [mail]'s
    ],
)
def test_a_transport_table_is_checked_as_strictly_as_any_key(
    tmp_path, folder_transport, mail, message
):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        make_site(tmp_path, config=BASE + "[mail]\n" + mail + "\n")
    assert str(tmp_path / "postroom.toml") in str(caught.value)


@pytest.mark.nostore
def test_an_unregistered_transport_is_a_config_error_again(tmp_path, folder_transport):
    config = BASE + '[mail]\ntransport = "folder"\n'
    site = make_site(tmp_path, config=config)
    unregister_transport("folder")
    with pytest.raises(
        ConfigError, match=re.escape("'mail.transport' must be one of files, smtp, not")
    ):
        transport_for(site)  # read while it was registered, used after
    with pytest.raises(ConfigError, match="must be one of files, smtp, not 'folder'"):
        make_site(tmp_path, config=config)


@pytest.mark.nostore
def test_a_transport_name_or_table_that_cannot_work_is_refused_at_registration():
    @dataclass(frozen=True)
    class NoDefault:
        folder: str

    with pytest.raises(ValueError, match=re.escape("not a [mail] key")):
        register_transport_section("host")  # [mail.host] could never be its table
    with pytest.raises(TypeError, match=r"NoDefault\.folder needs a str, number or bool"):
        register_transport_section("nodefault", NoDefault)


# --- the post_published signal -------------------------------------------------------


@pytest.fixture
def published():
    """Every (sender, post) the signal carries, and a receiver that always fails."""
    seen = []

    def broken(sender, *, post):
        raise RuntimeError("a plugin's bug")

    def record(sender, *, post):
        seen.append((sender, post))

    post_published.connect(broken, weak=False)
    post_published.connect(record, weak=False)
    yield seen
    post_published.disconnect(broken)
    post_published.disconnect(record)


def test_each_new_post_is_published_once_and_a_failing_receiver_stops_nothing(
    tmp_path, published, caplog
):
    site = make_site(tmp_path, {"a.md": MD.format(title="One"), "b.md": MD.format(title="Two")})
    store = Store(site.store_url)
    try:
        with caplog.at_level(logging.WARNING, "postroom.signals"):
            first = scan(site, store, T0)
        assert sorted(post.title for _, post in published) == ["One", "Two"]
        assert all(sender is site for sender, _ in published)
        assert {post.id for _, post in published} == set(first.new)
        assert {p.id for p in store.posts()} == set(first.new)  # committed before it was sent
        assert "receiver" in caplog.text and "a plugin's bug" in caplog.text
        published.clear()
        assert not scan(site, store, T0 + timedelta(hours=1)).changed  # a rescan: nothing
        write(site.content_dir / "a.md", MD.format(title="One").replace("Text", "New text"))
        write(site.content_dir / "c.md", MD.format(title="Three"))
        report = scan(site, store, T0 + timedelta(hours=2))
        assert len(report.updated) == 1 and len(report.new) == 1
        assert [post.title for _, post in published] == ["Three"]  # not the update
    finally:
        store.close()
