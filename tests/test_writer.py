"""feeds.writer on a real folder: atomic writes, unchanged files untouched, stale ones removed."""

import errno
import json
import os
import socket
import subprocess

import pytest
from postroom.feeds.writer import (
    MANIFEST,
    OutputWriter,
    put_file,
    read_manifest,
    stage_file,
    write_atomic,
    write_if_changed,
)

OLD = 1_000_000_000  # an mtime long past: a rewrite would move it


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_an_atomic_write_leaves_the_file_readable_and_no_temp_files(tmp_path):
    path = tmp_path / "deep/er/atom.xml"
    write_atomic(path, b"<feed/>")
    write_atomic(path, b"<feed>new</feed>")
    assert path.read_bytes() == b"<feed>new</feed>"
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600: the server reads it
    assert files_under(tmp_path) == ["deep/er/atom.xml"]


def test_a_file_is_readable_by_all_whatever_the_umask(tmp_path):
    """Files are made 0644 and chmod-ed only when the umask took bits away."""
    before = os.umask(0o077)
    try:
        st = write_atomic(tmp_path / "strict/atom.xml", b"<feed/>")
    finally:
        os.umask(before)
    assert (tmp_path / "strict/atom.xml").stat().st_mode & 0o777 == 0o644
    assert st.st_mode & 0o777 == 0o644  # the stat handed back is the file's as it stays


def test_a_page_in_a_folder_made_just_now_is_written_and_one_met_again_is_compared(tmp_path):
    """A cold build's page goes into a folder its writer has just made: nothing to compare
    with. A folder that was there already is looked in: same bytes, file left alone."""
    root, scratch = tmp_path / "public", tmp_path / "scratch"
    wrote, st = put_file(root, "posts/a/index.html", b"<p>a</p>", scratch)
    assert wrote and (root / "posts/a/index.html").read_bytes() == b"<p>a</p>"
    assert (st.st_size, st.st_mtime_ns) == (8, os.stat(root / "posts/a/index.html").st_mtime_ns)
    os.utime(root / "posts/a/index.html", (OLD, OLD))
    assert put_file(root, "posts/a/index.html", b"<p>a</p>", scratch)[0] is False
    assert (root / "posts/a/index.html").stat().st_mtime == OLD
    (root / "posts/b").mkdir()  # made by someone else: this writer has not seen it
    (root / "posts/b/index.html").write_bytes(b"<p>b</p>")
    os.utime(root / "posts/b/index.html", (OLD, OLD))
    assert put_file(root, "posts/b/index.html", b"<p>b</p>", scratch)[0] is False
    assert put_file(root, "posts/b/index.html", b"<p>B</p>", scratch)[0] is True
    assert (root / "posts/b/index.html").read_bytes() == b"<p>B</p>"
    assert not list(scratch.iterdir())  # every temp file renamed into place


def test_a_staged_file_waits_in_the_scratch_until_it_is_placed(tmp_path, monkeypatch):
    """`stage_file` compares and writes a temp file in the scratch, nothing in public/;
    `place` journals the name, renames it in, and records the stat the temp file had.
    Bytes already there are staged as nothing, and counted unchanged."""
    import postroom.feeds.writer as writer

    root = tmp_path / "public"
    out = OutputWriter(root)
    staged = stage_file(root, "archive/atom-1.xml", b"<feed/>", out.scratch)
    assert staged.temp is not None and os.path.dirname(staged.temp) == str(out.scratch)
    assert not (root / "archive/atom-1.xml").exists()
    out.place("archive/atom-1.xml", staged, "k")
    st = os.stat(root / "archive/atom-1.xml")
    assert (root / "archive/atom-1.xml").read_bytes() == b"<feed/>"
    assert out.entry("archive/atom-1.xml") == ("k", st.st_size, st.st_mtime_ns)
    assert (staged.size, staged.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert "archive/atom-1.xml" in (out.scratch / "intended.jsonl").read_text()
    same = stage_file(root, "archive/atom-1.xml", b"<feed/>", out.scratch)
    assert same.temp is None and same.mtime_ns == st.st_mtime_ns
    out.place("archive/atom-1.xml", same, "k")
    # the scratch on another filesystem than public/: the bytes are written beside it
    real_replace = writer._replace

    def across(tmp, path, target):
        if os.path.dirname(tmp) == str(out.scratch):
            raise OSError(errno.EXDEV, "cross-device link")
        return real_replace(tmp, path, target)

    monkeypatch.setattr(writer, "_replace", across)
    out.place("b.xml", stage_file(root, "b.xml", b"b", out.scratch))
    assert (root / "b.xml").read_bytes() == b"b"
    assert out.written == ["archive/atom-1.xml", "b.xml"] and out.unchanged == 1
    out.finish()
    assert read_manifest(root) == {"archive/atom-1.xml", "b.xml"}
    assert files_under(root) == [MANIFEST, "archive/atom-1.xml", "b.xml"]
    assert not out.scratch.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "atom.xml"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # fails mid-write
    assert path.read_bytes() == b"old"
    assert files_under(tmp_path) == ["atom.xml"]


def test_identical_bytes_are_not_rewritten(tmp_path):
    path = tmp_path / "rss.xml"
    path.write_bytes(b"same")
    os.utime(path, (OLD, OLD))
    assert write_if_changed(path, b"same") is False
    assert path.stat().st_mtime == OLD
    assert write_if_changed(path, b"different") is True
    assert path.stat().st_mtime != OLD and path.read_bytes() == b"different"


def run(root, outputs):
    out = OutputWriter(root)
    for name, data in outputs.items():
        out.put(name, data)
    return out, out.finish()


def test_stale_outputs_and_the_folders_they_leave_empty_are_removed(tmp_path):
    run(tmp_path, {"index.html": b"i", "posts/a/index.html": b"a", "posts/b/index.html": b"b"})
    out, removed = run(tmp_path, {"index.html": b"i", "posts/b/index.html": b"b"})
    assert removed == ["posts/a/index.html"]
    assert out.written == [] and out.unchanged == 2
    assert not (tmp_path / "posts/a").exists()
    assert read_manifest(tmp_path) == {"index.html", "posts/b/index.html"}


def test_files_postroom_did_not_write_are_never_removed(tmp_path):
    (tmp_path / "posts/a").mkdir(parents=True)
    (tmp_path / "posts/a/notes.txt").write_text("the curator's")
    (tmp_path / "robots.txt").write_text("mine")
    run(tmp_path, {"posts/a/index.html": b"a"})
    _, removed = run(tmp_path, {})
    assert removed == ["posts/a/index.html"]
    assert files_under(tmp_path) == [MANIFEST, "posts/a/notes.txt", "robots.txt"]


def test_a_manifest_cannot_make_it_delete_outside_its_folder(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (tmp_path / "precious.txt").write_text("keep")
    (public / MANIFEST).write_text(json.dumps(["../precious.txt", "/etc/hostname", 3]))
    _, removed = run(public, {"index.html": b"i"})
    assert removed == [] and (tmp_path / "precious.txt").exists()


def test_a_broken_manifest_is_replaced_not_fatal(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    _, removed = run(tmp_path, {"index.html": b"i"})
    assert removed == []
    assert read_manifest(tmp_path) == {"index.html"}


def test_a_killed_builds_temp_files_are_never_among_the_outputs_and_are_cleared(tmp_path):
    public = tmp_path / "public"
    scratches = tmp_path / ".public.scratch"
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed = scratches / f"{socket.gethostname()}:{dead.pid}"  # a build that died mid-write
    killed.mkdir(parents=True)
    (killed / ".atom.xml.x1y2.tmp").write_bytes(b"<feed><entry>half")
    alive = scratches / f"{socket.gethostname()}:1"  # a build still running elsewhere
    alive.mkdir()
    out, _ = run(public, {"atom.xml": b"<feed/>", "posts/a/index.html": b"a"})
    assert files_under(public) == [MANIFEST, "atom.xml", "posts/a/index.html"]
    assert not killed.exists()  # its process is gone
    assert alive.is_dir() and not out.scratch.exists()


def test_a_build_after_one_of_this_process_that_failed_clears_what_that_one_staged(tmp_path):
    """A service's build that fails (a broken template) after staging its held pages
    never places them; the next build in the same process removes them and keeps what
    the failed one put on record. Before, each failed try left its pages in the scratch
    for as long as the service ran."""
    public = tmp_path / "public"
    failed = OutputWriter(public)
    failed.put("posts/a/index.html", b"a")  # written, on its journal
    failed.hold(lambda: None)
    failed.put("tags/t/index.html", b"<p>t</p>")  # staged, then the build fails
    (failed.scratch / "rendered").mkdir()  # and its workers' results
    temps = [n for n in os.listdir(failed.scratch) if n.endswith(".tmp")]
    assert temps  # the test can fail
    out = OutputWriter(public)
    assert out.scratch == failed.scratch
    assert sorted(os.listdir(out.scratch)) == ["intended.jsonl"]
    out.put("posts/b/index.html", b"b")
    out.finish()
    assert files_under(public) == [MANIFEST, "posts/b/index.html"]  # a's removed: on record


@pytest.mark.nostore
@pytest.mark.parametrize("count", [0, 1, 2, 1000, 1001, 2500])
def test_the_manifest_written_in_pieces_is_the_manifest_written_whole(count):
    """The manifest is never held whole in memory (its text and bytes, ~24 MB at 100,000
    files, were a cold build's peak): its pieces must join into what one join made."""
    from postroom.feeds.writer import _manifest_text

    names = [f"posts/{n:05}/index.html" for n in range(count)]
    lines = {name: json.dumps(name) + ': {"sha256": "' + "0" * 8 + '"}' for name in names}
    remembered = '{"a": 1}'
    whole = '{"files": {\n' + ",\n".join(lines[n] for n in names)
    whole += '\n},\n"remembered": ' + remembered + "}\n"
    made = b"".join(_manifest_text(lines.__getitem__, names, remembered))
    assert made == whole.encode()
    assert list(json.loads(made)["files"]) == names
