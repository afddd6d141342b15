"""Acceptance on the curator's real captures (../shared/seeds), through the CLI.

The folder: $POSTROOM_SEEDS, else ../shared/seeds beside the repository; collected only
where there is one (tests/seeds_support.py), and the pytest summary says which.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from postroom.store import Store
from seeds_support import seeds_folder
from support import make_site

EXPECTED = {
    ("2017-04-19", "Top down improvements - doomed to fail"),
    ("2016-12-17", "Bottom Up"),
    ("2016-12-23", "Bye, Bye Sir Michael, Bye, Bye!"),
    ("2016-12-20", "Need, not innovation, should be the focus"),
    ("2016-12-12", "The Health and Care Professions Council \u2013 have we lost our senses?"),
    ("2016-12-07", "The Innovation Clause: bad news, rumours of its death are an exaggeration!"),
    ("2016-06-23", "A social work manager\u2019s verdict on Ofsted\u2019s leadership tips"),
}
UNDATED = "Keep momentum in social work reform"
JUNK = (
    "Cookie Consent",
    "Connecting to LinkedIn",
    "Shutterstock",
    "C7521 A40553",
    "browser",
    "cookies",
    "Learn more",
    "Comment",
    "Have your say",
    "sign in to make",
    "Terms and Conditions",
    "HTML is not permitted",
    "News & Social Media",
    "Posted on",
)


def test_seeds_give_exactly_the_eight_posts(tmp_path):
    seeds, _ = seeds_folder()
    assert seeds is not None
    site = make_site(tmp_path / "site")
    shutil.copytree(seeds, site.content_dir, dirs_exist_ok=True)
    postroom = Path(sys.executable).with_name("postroom")
    out = subprocess.run(
        [postroom, "--site", site.root, "check", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report = json.loads(out)
    posts = {p["title"]: p for p in report["posts"]}
    assert len(report["posts"]) == 8
    dated = {(p["date"][:10], p["title"]) for p in report["posts"] if p["title"] != UNDATED}
    assert dated == EXPECTED

    assert len(posts["Bottom Up"]["files"]) == 2
    manager = posts["A social work manager\u2019s verdict on Ofsted\u2019s leadership tips"]
    assert (manager["author"], manager["source"]) == ("Social Work Manager", "Community Care")
    assert manager["date_source"] == "text"
    undated = posts[UNDATED]
    assert (undated["author"], undated["author_role"]) == (
        "Mark Rogers",
        "chief executive, Solihull MBC",
    )
    assert undated["date_source"] == "picked_up"
    assert any(
        p["file"] == undated["files"][0] and "no date" in p["reason"] for p in report["problems"]
    )

    store = Store(site.store_url)
    try:
        for post in store.posts():
            for junk in JUNK:
                assert junk not in post.title, (junk, post.title)
                assert junk not in post.body_html, (junk, post.title)
    finally:
        store.close()
