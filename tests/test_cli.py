"""The postroom command as a user runs it, in a process of its own."""

import json
import subprocess
import sys
from pathlib import Path

import feedparser
import prestart
from postroom import __version__
from support import ARCHIVE, NEWS_PAGE, make_site, write

POSTROOM = Path(sys.executable).with_name("postroom")


def postroom(*args, check=False, installed=False):
    """The command in a process of its own: forked from a prestarted Python running what
    the installed script runs (tests/prestart.py), or with `installed`, that script."""
    if installed:
        command = [POSTROOM, *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=check)
    done = prestart.postroom(*args)
    if check:
        done.check_returncode()
    return done


def test_init_then_run_once_writes_feeds_and_says_what_it_did(tmp_path):
    site_dir = tmp_path / "site"
    postroom("init", site_dir, check=True, installed=True)
    write(site_dir / "content/archive.txt", ARCHIVE)
    out = postroom("--site", site_dir, "run", "--once", check=True, installed=True).stdout
    assert "2 posts: 2 new, 0 updated" in out and "files written" in out
    atom = feedparser.parse((site_dir / "public/atom.xml").read_bytes())
    assert not atom.bozo and len(atom.entries) == 2
    again = postroom("--site", site_dir, "run", "--once", check=True, installed=True).stdout
    assert "0 new, 0 updated" in again and "0 files written" in again


def test_check_json_fields_and_exit_status(tmp_path):
    site = make_site(tmp_path, {"news.txt": NEWS_PAGE})
    result = postroom("--site", site.root, "check", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [post] = report["posts"]
    assert set(post) == {
        "id",
        "title",
        "date",
        "date_source",
        "author",
        "author_role",
        "source",
        "source_url",
        "files",
        "tags",
        "body_start",
        "republish",
        "image",
    }
    assert post["source"] == "Example Care Weekly" and post["files"] == ["news.txt"]
    assert post["republish"] == "excerpt" and post["image"] is None  # another publication's
    # the text after the title, byline and standfirst, as plain text
    assert post["body_start"].startswith("Another list of the qualities of good leaders has")
    assert len(post["body_start"]) <= 200
    # a credited source but no original URL: check says so, and how to add one
    [advice] = report["problems"]
    assert advice["file"] == "news.txt" and advice["severity"] == "warning"
    assert "no original URL" in advice["reason"] and "news.meta.toml" in advice["reason"]
    write(site.content_dir / "news.meta.toml", 'url = "https://care.example.org/a"\n')
    assert json.loads(postroom("--site", site.root, "check", "--json").stdout)["problems"] == []
    write(site.content_dir / "broken.md", "---\ntitle: [oops\n---\n")
    result = postroom("--site", site.root, "check", "--json")
    assert result.returncode == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["file"] == "broken.md" and problem["severity"] == "error"
    assert set(problem) == {"file", "reason", "severity"}


def test_a_bad_config_is_a_clear_error_not_a_traceback(tmp_path):
    (tmp_path / "postroom.toml").write_text("[feed]\nwindw = 1\n")
    result = postroom("--site", tmp_path, "check")
    assert result.returncode == 2
    assert "unknown key 'feed.windw'" in result.stderr and "Traceback" not in result.stderr


def test_check_lists_a_listings_undated_posts_in_the_pages_order(tmp_path):
    listing = "".join(
        f"{title}\n\n{teaser} the council said on the day… Read more »\n\n"
        for title, teaser in [
            ("Zebra crossing repainted on Mill Lane", "The crossing was repainted overnight,"),
            ("Allotment waiting list reopens", "Residents can join the list again,"),
            ("Mobile library returns to the villages", "The van visits six villages a week,"),
        ]
    )
    site = make_site(tmp_path, {"listing.txt": listing})
    report = json.loads(postroom("--site", site.root, "check", "--json").stdout)
    # one pick-up time for all three: the page's order, not the ids' (which sort the zebra last)
    assert [p["title"] for p in report["posts"]] == [
        "Zebra crossing repainted on Mill Lane",
        "Allotment waiting list reopens",
        "Mobile library returns to the villages",
    ]


def test_version_names_the_package_and_exits_0():
    result = postroom("--version")
    assert (result.returncode, result.stdout) == (0, f"postroom {__version__}\n")


def test_site_may_follow_the_verb_and_there_wins(tmp_path):
    site = make_site(tmp_path / "site", {"news.txt": NEWS_PAGE})
    elsewhere = tmp_path / "nowhere"  # no site here: used, it would be an error
    for args in (
        ("check", "--site", site.root, "--json"),
        ("--site", elsewhere, "check", "--json", "--site", site.root),
    ):
        result = postroom(*args)
        assert result.returncode == 0, result.stderr
        assert [p["files"] for p in json.loads(result.stdout)["posts"]] == [["news.txt"]]
    # after a verb's own verb too, and without a --site after the verb, the one before stands
    listing = postroom("subscribers", "list", "--site", site.root, "--json")
    assert (listing.returncode, json.loads(listing.stdout)) == (0, [])
    assert postroom("--site", site.root, "digest", "status").stdout == "no issues yet\n"
    said = " ".join(postroom("--help").stdout.split())  # as wrapped to the terminal
    assert "also accepted after the verb, where it wins" in said
