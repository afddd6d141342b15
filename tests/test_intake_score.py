"""Capture intake never scores below its ratchet on the labelled captures.

bench/eval.py runs the real `postroom check --json` on ../shared/captures (read in
place) and scores it with the corpus's score.py; every field must reach its floor
in tests/intake_ratchet.json. Raise a floor when intake improves; never lower one
to make a change pass. eval.py keeps the corpus in a throwaway site's own SQLite
file, on either pass of the suite.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nostore

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT.parent / "shared" / "captures"
RATCHET = ROOT / "tests" / "intake_ratchet.json"
FIELDS = ("found", "titles", "dates", "sources", "authors", "body_starts", "counts")


def test_intake_scores_stay_at_or_above_the_ratchet():
    if not CAPTURES.is_dir():
        pytest.fail(
            f"{CAPTURES} is missing: the labelled captures this test scores intake on"
            " (a real input, so the test fails rather than skips without it)",
            pytrace=False,
        )
    floors = json.loads(RATCHET.read_text(encoding="utf-8"))
    result = subprocess.run(
        [sys.executable, ROOT / "bench" / "eval.py", "--json", "--corpus", CAPTURES],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"bench/eval.py exited {result.returncode}: {result.stderr}"
    scores = json.loads(result.stdout)
    below = [
        f"{field}: scored {scores[field]}%, floor {floors[field]}%"
        for field in FIELDS
        if scores[field] < floors[field]
    ]
    assert not below, "intake scores below the ratchet (tests/intake_ratchet.json):\n" + "\n".join(
        below
    )
