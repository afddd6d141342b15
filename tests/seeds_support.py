"""Where the seed acceptance (tests/test_seeds.py) finds the curator's real captures,
and the line the pytest summary gives it, so every run says whether it checked them.

$POSTROOM_SEEDS names the folder (.ci/run sets it; a missing folder then fails the
test); else ../shared/seeds beside the repository, where it is there; else the test is
not collected.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "POSTROOM_SEEDS"
BESIDE = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
TESTS = "tests/test_seeds.py"


def seeds_folder() -> tuple[Path | None, str]:
    """The folder and where it was named; or None and why there is none."""
    named = os.environ.get(ENV, "")
    if named:
        return Path(named), f"${ENV}"
    if BESIDE.is_dir():
        return BESIDE, "../shared/seeds beside the repository"
    return None, f"no {BESIDE} and no ${ENV}"


def seeds_summary(stats: dict[str, list]) -> str:
    """One line on the seed acceptance, from the terminal reporter's stats."""
    folder, named = seeds_folder()
    if folder is None:
        return f"seed acceptance: not run: {named}"
    outcomes: dict[str, set[str]] = {}
    for outcome, reports in stats.items():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if outcome not in ("", "deselected") and nodeid.startswith(TESTS):
                outcomes.setdefault(outcome, set()).add(nodeid)
    if not outcomes:
        return f"seed acceptance: not selected in this run ({folder}, from {named})"
    counts = ", ".join(f"{len(ids)} {outcome}" for outcome, ids in sorted(outcomes.items()))
    return f"seed acceptance: ran on {folder} (from {named}): {counts}"
