"""A cold scan's workers hand each chunk's results back in a file, its name through the
pool's pipe (`content.handback`): a worker killed while its results are on their way
out must fail the scan, not hang it, and leave no rows and no files behind."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from postroom.content import handback, intake
from postroom.store import Store
from postroom.store.schema import files, posts, versions
from sqlalchemy import func, select
from support import ARCHIVE, UNDATED_COMMENT, make_site

_taken = handback.taken

_KILLED_SCAN = """
import sys
from pathlib import Path

import scan_killer  # the .boom reader, here and (by name) in the workers
from postroom.content.intake import scan
from postroom.core.config import open_site
from postroom.store import Store

site = open_site(Path(sys.argv[1]))
store = Store(site.store_url)
try:
    scan(site, store)
except Exception as exc:
    print(type(exc).__name__)
    sys.exit(3)
"""


def _content(count: int = intake._PARALLEL_FROM + 20) -> dict[str, str]:
    """More files than a scan reads in one process (so it reads them in workers)."""
    return {
        f"posts/{n:04d}.md": f"---\ntitle: Post {n}\ndate: 2026-{n % 12 + 1:02d}-01\n---\nText.\n"
        for n in range(count)
    }


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (posts, versions, files)
        }


def test_a_worker_killed_while_it_hands_back_results_fails_the_scan_not_hangs_it(tmp_path):
    """A worker SIGKILLed once its results are on their way out (an OOM kill): sent
    through the pool's pipe, half a message would stay there and the scan would wait
    for the rest for ever; handed back in a file, the scan fails, says why, stores
    nothing, and the hand-back folder (under TMPDIR) is gone with its files."""
    # the first file, with many chunks after it: the pool has work left when the worker
    # dies (killed once its last chunk was handed back, the scan would end well)
    content = _content(4 * intake._PARALLEL_FROM)
    content["posts/0000.boom"] = "anything: the reader makes its own post"
    site = make_site(tmp_path / "site", content)
    temp = tmp_path / "temp"
    temp.mkdir()
    tests = os.path.dirname(__file__)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(temp),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SCAN, str(site.root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the scan hung on a worker killed while it sent its results")
    assert proc.returncode == 3, err[-2000:]
    assert out.strip() == "BrokenProcessPool"
    assert [p.name for p in temp.iterdir() if p.name.startswith("postroom-scan-")] == []
    store = Store(site.store_url)
    try:
        assert _counts(store) == {"posts": 0, "versions": 0, "files": 0}
    finally:
        store.close()


def test_a_cold_scan_in_workers_leaves_no_hand_back_files(tmp_path, monkeypatch):
    """The chunks' files are taken as they are read: none is left once a scan is done."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR asked again
    taken = []
    monkeypatch.setattr(handback, "taken", lambda path: taken.append(path) or _taken(path))
    site = make_site(tmp_path / "site", _content())
    store = Store(site.store_url)
    try:
        report = intake.scan(site, store)
        assert len(report.new) == intake._PARALLEL_FROM + 20
    finally:
        store.close()
    assert len(taken) == -(-(intake._PARALLEL_FROM + 20) // intake._CHUNK)  # in workers
    assert all(os.path.dirname(path).startswith(str(tmp_path / "temp")) for path in taken)
    assert [p for p in (tmp_path / "temp").iterdir() if p.name.startswith("postroom-scan-")] == []


def _mixed() -> dict[str, str]:
    """Every kind of file a cold start meets, more than a scan reads in one process."""
    found = {}
    for n in range(intake._PARALLEL_FROM + 20):
        date = f"date: 2026-{n % 12 + 1:02d}-{n % 27 + 1:02d}\n" if n % 5 else ""  # undated
        extra = "tags: [a, ü]\nimage: https://img.example/p.png\n" if n % 7 == 0 else ""
        found[f"posts/{n:04d}.md"] = (
            f"---\ntitle: Post {n} — “ünïcode” {n % 3}\n{date}{extra}---\n"
            f"Text of post {n}, *emphasis* and [a link](https://e.example/{n}).\n"
        )
    found["copies/one.md"] = found["posts/0001.md"]  # the same post in two files
    long = "A title long enough that its id is cut before the words that tell them apart"
    for n, end in enumerate(("one way", "the other way")):  # one id made: "-2" for one
        found[f"clash/{n}.md"] = f"---\ntitle: {long} {end}\ndate: 2026-01-02\n---\nText.\n"
    found["posts/0002.meta.toml"] = 'comment = "The curator on post 2"\nrepublish = "excerpt"\n'
    found["broken.md"] = "---\ntitle: [broken\n---\n"
    found["archive.txt"] = ARCHIVE
    found["opinion/undated.txt"] = UNDATED_COMMENT
    return found


def _rows(store: Store) -> dict[str, list]:
    """Every row, but files' stat signatures (two sites' files have their own mtimes)."""
    with store.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(
                    select(*(c for c in table.c if c.name != "signature")).order_by(
                        *table.primary_key
                    )
                )
            ]
            for table in (posts, versions, files)
        }


@pytest.mark.parametrize("timezone", ["Europe/London", "Pacific/Kiritimati"])
def test_what_workers_prepare_is_what_the_scan_makes_in_one_process(
    tmp_path, monkeypatch, timezone
):
    """Versions' text, keys, ids and fingerprints made in the workers (`content.settle`,
    at the scan's moment, in the site's timezone: undated posts take that day) are the
    rows one process makes: byte for byte, change numbers too."""
    config = f'[site]\nbase_url = "https://notes.example.org/"\ntimezone = "{timezone}"\n'
    now = datetime(2026, 12, 1, 12, 0, 5, 987654, tzinfo=UTC)  # its microseconds dropped
    content, rows, taken = _mixed(), [], []
    monkeypatch.setattr(handback, "taken", lambda path: taken.append(path) or _taken(path))
    for parallel_from in (intake._PARALLEL_FROM, 10**9):
        monkeypatch.setattr(intake, "_PARALLEL_FROM", parallel_from)
        site = make_site(tmp_path / str(parallel_from), content, config)
        store = Store(site.store_url)
        try:
            intake.scan(site, store, now)
            rows.append(_rows(store))
        finally:
            store.close()
    assert taken  # the first scan's results came from workers, the second's did not
    assert rows[0] == rows[1]
    ids = [row[0] for row in rows[0]["posts"]]
    clash = sorted(i for i in ids if i.startswith("2026-01-02-a-title-long"))
    assert len(ids) > 200 and len(clash) == 2 and clash[1] == clash[0] + "-2"


@pytest.mark.parametrize(
    "body",
    ["<p>plain</p>", '<p>"body_html": 0</p>', "<p>café …</p>", "<p>a\\b\nc\td\x7f</p>", ""],
)
def test_a_version_s_text_is_json_s_own_whatever_its_fields_hold(body):
    """`encode_parsed` splices an ASCII body in apart: the text is still what
    json.dumps writes, with a placeholder's lookalike in every other field."""
    import json

    from postroom.core.model import Attribution, DateSource, ParsedPost
    from postroom.store.encoding import decode_parsed, encode_parsed, plain

    bait = '"body_html": 0 \\", "body_html": 0 \\\\'
    post = ParsedPost(
        title=bait,
        date=datetime(2026, 1, 2, tzinfo=UTC),
        date_source=DateSource.FRONT_MATTER,
        body_html=body,
        summary=bait + " é",
        attribution=Attribution(source=bait, author="x\\", author_role=bait, url="\\"),
        tags=(bait, "body_html"),
        comment=bait,
        excerpt=bait,
    )
    data = plain(post) | {"date": post.date.isoformat()}
    data["excerpt_stamp"] = json.loads(encode_parsed(post))["excerpt_stamp"]
    assert encode_parsed(post) == json.dumps(data, ensure_ascii=False, sort_keys=True)
    assert encode_parsed(post, json.dumps(body)) == encode_parsed(post)  # a worker's
    assert decode_parsed(encode_parsed(post)) == post


@pytest.mark.parametrize(
    "body",
    ["<p>plain</p>", '<p>"body_html": 0</p>', "<p>café …</p>", "<p>a\\b\nc\td\x7f</p>", ""],
)
@pytest.mark.parametrize("bait", ['"body_html": 0 \\", "body_html": 0 \\\\', "plain"])
def test_a_fingerprint_made_with_the_body_s_json_is_the_one_made_without(body, bait):
    """A worker hands `first_fingerprint` the body's JSON it made for the version's
    text; spliced into the rest, it gives the fingerprint of the whole post, whatever
    the body and the other fields hold (a placeholder's lookalike among them)."""
    import json

    from postroom.content.settle import fingerprint, first_fingerprint, id_base, publishable
    from postroom.core.model import Attribution, DateSource, LeadImage, ParsedPost, Republish

    now = datetime(2026, 12, 1, 12, 0, 5, 987654, tzinfo=UTC)
    for date in (datetime(2026, 1, 2, tzinfo=UTC), None):
        post = ParsedPost(
            title=bait + " é",
            date=date,
            date_source=DateSource.FRONT_MATTER if date else None,
            body_html=body,
            summary=bait,
            attribution=Attribution(source=bait, author="x\\", url="\\"),
            tags=(bait, "body_html"),
            comment=bait if date else "",
            image=LeadImage("https://x.example/i.png", alt=bait) if date else None,
            republish=Republish.EXCERPT if date else None,
            excerpt=bait,
        )
        whole = fingerprint(publishable(id_base(post, "a.md", UTC), post, (), now, now, UTC))
        alone = first_fingerprint(post, "a.md", now, UTC)
        made = first_fingerprint(post, "a.md", now, UTC, json.dumps(body))
        assert made == alone == (id_base(post, "a.md", UTC), whole)


def test_a_chunk_s_results_come_back_as_they_were_made(tmp_path):
    """`examine_to_file` writes a post's Attribution by its fields (`_by_fields`): what
    the parent takes is what the worker made, every field of it, None or not."""
    from postroom.content.examine import examine_chunk
    from postroom.content.readers import reader_for

    content = _mixed()
    content["posts/0003.meta.toml"] = 'author_role = "Role"\nurl = "https://o.example/3"\n'
    site = make_site(tmp_path / "site", content)
    config = site.config
    now = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)
    jobs = [
        (site.content_dir, path, None, config, reader_for(path))
        for path in sorted(content)
        if reader_for(path)
    ]
    made = [handback.prepared(r, now, config.tz) for r in examine_chunk(jobs)]
    (tmp_path / "hand").mkdir()
    back = _taken(handback.examine_to_file(str(tmp_path / "hand"), now, (0, jobs)))
    assert back == made
    attributions = {p.attribution for r in back if r and r[2] for p in r[2].posts}
    assert len(attributions) > 2 and any(a.author_role and a.url for a in attributions)
    assert os.listdir(tmp_path / "hand") == []


def test_plain_is_asdict_with_lists_for_tuples():
    """`plain` skips the call for a string or None field: what it makes of every kind of
    field (nested dataclasses, tuples, enums, dates, numbers, bools) is asdict's."""
    from dataclasses import asdict

    from postroom.core.model import Attribution, DateSource, LeadImage, ParsedPost, Republish
    from postroom.store.encoding import plain

    post = ParsedPost(
        title="t",
        date=datetime(2026, 1, 2, tzinfo=UTC),
        date_source=DateSource.FRONT_MATTER,
        body_html="<p>b</p>",
        summary="s",
        attribution=Attribution(source="s", author=None, url="https://x.example/"),
        tags=("a", "b"),
        image=LeadImage("https://x.example/i.png", length=3),
        republish=Republish.FULL,
        excerpt=None,
    )
    expected = asdict(post) | {"tags": ["a", "b"]}
    assert plain(post) == expected
    assert [type(v) for v in plain(post).values()] == [type(v) for v in expected.values()]
    assert plain(post)["republish"] is Republish.FULL
