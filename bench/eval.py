"""Capture intake scored against hand-made labels; prints numbers, asserts nothing.

    python bench/eval.py [--corpus DIR] [--verbose] [--json]

A labelled corpus (default ../shared/captures beside the project, read in place and
never copied into the repository) holds NN.txt page captures and NN.json labels.
Each NN.txt goes into a temporary site's content/ with an NN.meta.toml sidecar
holding only the label's url, as the corpus README prescribes; the real
`postroom check --json` reads the site and the corpus's own score.py scores it.
Hand-made labels measure what unit tests cannot: how intake does on pages it was
not written against. tests/test_intake_score.py holds the scores to the floors in
tests/intake_ratchet.json.

score.py exits 1 while its goals are unmet: that is a measurement, not a failure,
so this exits 0 whenever scoring ran. It exits 2, with one line on stderr, when
the corpus is missing or postroom or score.py gives nothing to read.
--json prints one object with the numbers of score.py's summary line (score.py's
own output then goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL_ENV = "POSTROOM_DATABASE_URL"  # content.site's name for it
DEFAULT_CORPUS = ROOT.parent / "shared" / "captures"
POSTROOM = Path(sys.executable).with_name("postroom")
SUMMARY = re.compile(
    r"captures: (?P<posts>\d+) posts in (?P<captures>\d+) captures; "
    r"found (?P<found>[\d.]+)%, titles (?P<titles>[\d.]+)%, dates (?P<dates>[\d.]+)%, "
    r"sources (?P<sources>[\d.]+)%, authors (?P<authors>[\d.]+)%, "
    r"body starts (?P<body_starts>[\d.]+)%, post counts exact (?P<counts>[\d.]+)%"
)


class EvalError(Exception):
    """Nothing to score: the one line printed before exiting 2."""


def run(cmd: list) -> subprocess.CompletedProcess[str]:
    """Run `cmd` on the throwaway site's own SQLite store: a POSTROOM_DATABASE_URL in
    the environment (a real database) must not receive the corpus's posts.
    Its exit status is not judged: check exits 1 on problems, score.py on unmet goals."""
    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)


def failed(what: str, done: subprocess.CompletedProcess[str]) -> EvalError:
    last = (done.stderr.strip().splitlines() or ["nothing on stderr"])[-1]
    return EvalError(f"{what} (exit {done.returncode}): {last}")


def labels(corpus: Path) -> list[Path]:
    """The corpus's label files, NN.json; each has its capture NN.txt beside it."""
    found = sorted(corpus.glob("*.json")) if corpus.is_dir() else []
    if not found:
        raise EvalError(f"{corpus}: no labelled captures (NN.txt + NN.json) there")
    return found


def fill_site(site: Path, corpus: Path) -> None:
    """A new site with every labelled capture and a sidecar giving only its url."""
    found = labels(corpus)
    made = run([POSTROOM, "init", site])
    if made.returncode:
        raise failed("postroom init failed", made)
    for label in found:
        capture = label.with_suffix(".txt")
        if not capture.is_file():
            raise EvalError(f"{capture}: missing (its label {label.name} is there)")
        url = json.loads(label.read_text(encoding="utf-8"))["url"]
        shutil.copyfile(capture, site / "content" / capture.name)
        # a JSON string is a valid TOML basic string: quotes, backslashes, controls escaped
        sidecar = site / "content" / f"{label.stem}.meta.toml"
        sidecar.write_text(f"url = {json.dumps(url, ensure_ascii=False)}\n", encoding="utf-8")


def check_json(site: Path) -> Path:
    """`postroom check --json` on the site, saved beside it for score.py."""
    done = run([POSTROOM, "--site", site, "check", "--json"])
    try:
        json.loads(done.stdout)
    except ValueError:
        raise failed("postroom check --json printed no JSON", done) from None
    saved = site.parent / "check.json"
    saved.write_text(done.stdout, encoding="utf-8")
    return saved


def score(corpus: Path, check: Path, verbose: bool) -> tuple[str, dict[str, float]]:
    """score.py's output and the numbers of its summary line, by field."""
    scorer = corpus / "score.py"
    if not scorer.is_file():
        scorer = DEFAULT_CORPUS / "score.py"
    if not scorer.is_file():
        raise EvalError(f"no score.py in {corpus} or {DEFAULT_CORPUS}")
    cmd = [sys.executable, scorer, corpus, check] + (["--verbose"] if verbose else [])
    done = run(cmd)
    found = SUMMARY.search(done.stdout)
    if not found:
        raise failed(f"{scorer} printed no summary line", done)
    return done.stdout, {k: float(v) if "." in v else int(v) for k, v in found.groupdict().items()}


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="labelled folder")
    args.add_argument("--verbose", action="store_true", help="score.py lists every miss")
    args.add_argument("--json", action="store_true", help="one JSON object of the scores")
    opts = args.parse_args()
    corpus = opts.corpus.resolve()
    try:
        with tempfile.TemporaryDirectory(prefix="postroom-eval-") as tmp:
            site = Path(tmp) / "site"
            fill_site(site, corpus)
            output, scores = score(corpus, check_json(site), opts.verbose)
    except EvalError as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    if opts.json:
        print(output, end="", file=sys.stderr)
        print(json.dumps(scores))
    else:
        print(output, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
