"""Whole-site build time and memory: postroom against Pelican on the same posts.

    python bench/build.py [--sizes 1000,10000,100000] [--quick] [--timeout 3600] [--json]

Why: postroom is a static publisher too, so the question "is a full build of a
big site slow?" needs a yardstick; Pelican is the usual Python one.

What: for each size, bench/ingest.py's generator writes the posts (half Markdown
with front matter, half raw captures); the same posts (title, date, author,
tags, source as category, same body) are written again as Pelican Markdown.
Each tool then runs twice, each run in its own process:
  cold  postroom: empty store, no public/: content.intake.scan, then
        service.jobs.publish. Pelican: no output, --ignore-cache (it
        still writes its content cache, as postroom writes its store).
  warm  the same again with nothing changed (Pelican loads its cache:
        CACHE_CONTENT and LOAD_CONTENT_CACHE on), each tool's best warm path.
Times are the wall time of the measured process (interpreter start and
imports included, for both). Peak RSS is ru_maxrss of RUSAGE_CHILDREN read by
a fresh wrapper process per run: the largest single process of that run (for
postroom's cold scan that may be one of its parse workers), not a sum. "files"
is what the output folder holds after the cold run, "rewritten" the files the
warm run wrote again (mtime or inode changed).
Pelican is set up to write what postroom writes to public/: post pages, an
index of the 50 newest (Pelican paginates the rest), a list of every post
(archives.html), feeds for the site, each tag and each source, 50 entries,
full content. Postroom also writes JSON Feed and a digest archive; Pelican
also copies its theme. Pelican lives in its own venv (.venv-pelican, pinned).
Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import MONTHS, generate  # noqa: E402  (the same generated posts)

PELICAN_VENV = ROOT / ".venv-pelican"
# pelican 4.12.0 wants markdown>=3.1 (its "markdown" extra); the rest is its tree, pinned.
PELICAN_PINS = (
    "pelican==4.12.0",
    "markdown==3.11.3",
    "anyio==4.16.0",
    "blinker==1.9.0",
    "docutils==0.23",
    "feedgenerator==2.2.1",
    "idna==3.20",
    "Jinja2==3.1.6",
    "markdown-it-py==4.3.0",
    "MarkupSafe==3.0.4",
    "mdurl==0.1.2",
    "ordered-set==4.1.0",
    "Pygments==2.19.2",
    "python-dateutil==4.0.0",
    "rich==15.0.0",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
    "Unidecode==1.4.0",
    "watchfiles==1.3.0",
)
PIP_QUIET = ("--disable-pip-version-check",)
TOOLS = ("postroom", "pelican")
SITE_TOML = '[site]\nbase_url = "https://bench.example/"\n'

PELICAN_CONF = """\
# Written by bench/build.py: Pelican set to write what postroom writes to public/.
AUTHOR = "Bench"
SITENAME = "postroom"
SITEURL = "https://bench.example"
PATH = "content"
TIMEZONE = "Europe/London"
DEFAULT_LANG = "en"
USE_FOLDER_AS_CATEGORY = False
# post pages where postroom puts them: posts/<date>-<slug>/index.html
ARTICLE_URL = "posts/{date:%Y-%m-%d}-{slug}/"
ARTICLE_SAVE_AS = "posts/{date:%Y-%m-%d}-{slug}/index.html"
# index.html: the 50 newest (postroom's window; Pelican paginates the rest);
# archives.html: every post (postroom's posts/index.html)
DEFAULT_PAGINATION = 50
PAGINATED_TEMPLATES = {"index": None}
DIRECT_TEMPLATES = ["index", "archives"]
# postroom writes feeds for tags and sources, not HTML pages for them
TAG_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
# feeds: the site, each tag, each source (a Pelican category); 50 entries, full content
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/sources/{slug}.atom.xml"
CATEGORY_FEED_RSS = "feeds/sources/{slug}.rss.xml"
TAG_FEED_ATOM = "feeds/tags/{slug}.atom.xml"
TAG_FEED_RSS = "feeds/tags/{slug}.rss.xml"
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
FEED_MAX_ITEMS = 50
RSS_FEED_SUMMARY_ONLY = False
# content cache: every run writes it; every run but the cold one (--ignore-cache) loads it
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CONTENT_CACHING_LAYER = "{layer}"
CACHE_PATH = "cache"
"""


# ---------------------------------------------------------------- the same posts for Pelican


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """The generator's own front matter: `key: value` lines between `---` fences."""
    _, head, body = text.split("---\n", 2)
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip().strip('"')
    return meta, body


def pelican_markdown(path: Path) -> str:
    """One generated post (Markdown or capture) as a Pelican Markdown file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        meta, body = _front_matter(text)
        title, day, author = meta["title"], meta["date"], meta["author"]
        source, tags = meta["source"], meta["tags"].strip("[]")
    else:  # banner, banner, date line, title, byline, paragraphs..., "Source: X"
        parts = text.rstrip("\n").split("\n\n")
        d, month, year = parts[2].split(", ", 1)[1].split()  # "Friday, 9 January 2010"
        day = f"{int(year):04d}-{MONTHS.index(month) + 1:02d}-{int(d):02d}"
        title, author = parts[3], parts[4].removeprefix("By ")
        source, tags = parts[-1].removeprefix("Source: "), ""
        body = "\n\n".join(parts[5:-1]) + "\n"
    head = f"Title: {title}\nDate: {day}\nAuthor: {author}\nCategory: {source}\n"
    return head + (f"Tags: {tags}\n" if tags else "") + "\n" + body.lstrip("\n")


def write_pelican_site(postroom_content: Path, pelican: Path, layer: str) -> int:
    """Pelican's copy of the posts under pelican/content, and its conf.py; posts written."""
    count = 0
    for folder, _dirs, names in os.walk(postroom_content):
        for name in names:
            src = Path(folder) / name
            dest = pelican / "content" / src.relative_to(postroom_content).with_suffix(".md")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(pelican_markdown(src), encoding="utf-8")
            count += 1
    (pelican / "conf.py").write_text(PELICAN_CONF.replace("{layer}", layer), encoding="utf-8")
    return count


def ensure_pelican(venv: Path = PELICAN_VENV) -> Path:
    """bin/pelican of a venv holding exactly PELICAN_PINS; created or refreshed as needed."""
    marker = venv / ".bench-pins"
    wanted = "\n".join(PELICAN_PINS) + "\n"
    pelican = venv / "bin" / "pelican"
    if pelican.exists() and marker.exists() and marker.read_text() == wanted:
        return pelican
    print(f"setting up {venv} ({PELICAN_PINS[0]}, {PELICAN_PINS[1]}) ...", file=sys.stderr)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *PIP_QUIET, *PELICAN_PINS],
        check=True,
    )
    marker.write_text(wanted)
    return pelican


# ---------------------------------------------------------------- measured processes


@dataclass
class Run:
    """One measured process."""

    status: str  # ok, timeout, failed (exit N)
    seconds: float | None
    rss_mb: float | None
    load_before: float
    load_after: float
    files: int | None = None  # in the output folder afterwards
    rewritten: int | None = None  # output files written again by this run
    detail: dict[str, Any] = field(default_factory=dict)  # the tool's own numbers


def _adopt_orphans() -> None:
    """Make this process a child subreaper (Linux), so processes the run leaves behind
    (postroom's forkserver, which reaps its parse workers) are reaped here and so count
    in RUSAGE_CHILDREN; elsewhere they are simply not counted."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _measure_child(result: str, log: str, cwd: str, cmd: list[str]) -> int:
    """In the wrapper: run cmd, then record its wall time and its tree's peak RSS."""
    _adopt_orphans()
    with open(log, "w", encoding="utf-8") as out:
        began = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
        took = time.perf_counter() - began
    while True:  # the run's orphans, once they exit (the forkserver: when its parent has)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    Path(result).write_text(json.dumps({"code": code, "seconds": took, "peak_kb": peak_kb}))
    return 0


#: `measure`'s environment, made (and postroom's bytecode compiled) at its first run
_ENV: dict[str, str] | None = None


def _as_installed() -> dict[str, str]:
    """The environment a tool is timed in, with postroom's bytecode compiled first, as
    `pip install` compiles a wheel's: without it (a checkout, PYTHONDONTWRITEBYTECODE
    set as on this machine) every postroom process compiled each module it imported
    on every run, ~0.2 CPU-s in the command and as much in its forkserver, that no
    user pays and Hugo (a binary) never does."""
    import compileall

    compileall.compile_dir(ROOT, maxlevels=0, quiet=1)  # its __init__.py, scheduler.py
    for folder in sorted(ROOT.iterdir()):  # and its subpackages, not tests/ or bench/
        if (folder / "__init__.py").is_file() and folder.name not in ("tests", "bench"):
            compileall.compile_dir(folder, quiet=1)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(cmd: list[str], cwd: Path, log: Path, timeout: float) -> Run:
    """Runs cmd under a fresh wrapper process (so RUSAGE_CHILDREN is this run's alone)."""
    global _ENV
    if _ENV is None:
        _ENV = _as_installed()
    result = log.with_suffix(".result.json")
    result.unlink(missing_ok=True)
    wrapper = [sys.executable, __file__, "_measure", str(result), str(log), str(cwd), "--", *cmd]
    # every tool starts on a disk with nothing left to write back: the generator's posts
    # (three copies of them for postroom, Hugo and Pelican) would else be flushed during
    # whichever run comes first, postroom's cold one
    os.sync()
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(wrapper, start_new_session=True, env=_ENV)  # own group: killed whole
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return Run("timeout", None, None, load_before, os.getloadavg()[0])
    load_after = os.getloadavg()[0]
    if not result.exists():
        return Run(f"failed (wrapper {proc.returncode})", None, None, load_before, load_after)
    got = json.loads(result.read_text())
    status = "ok" if got["code"] == 0 else f"failed (exit {got['code']}, see {log})"
    return Run(status, got["seconds"], got["peak_kb"] / 1024, load_before, load_after)


def _postroom_child(site_root: str, result: str, profile: str | None) -> int:
    """In the measured process: scan, then publish, as `run --once` does; phases timed."""
    began = time.perf_counter()
    from postroom.content.intake import scan
    from postroom.core.config import open_site
    from postroom.service.jobs import publish
    from postroom.store import Store

    imported = time.perf_counter()
    site = open_site(Path(site_root))
    store = Store(site.store_url)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    report = scan(site, store)
    t1 = time.perf_counter()
    built = publish(site, store, datetime.now(UTC))
    t2 = time.perf_counter()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    store.close()
    import resource

    detail = {
        "import_s": imported - began,
        "scan_s": t1 - t0,
        "publish_s": t2 - t1,
        "parsed": report.parsed,
        "new": len(report.new),
        "problems": len(report.problems) + len(built.problems),
        "written": len(built.written),
        "unchanged": built.unchanged,
        "main_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    Path(result).write_text(json.dumps(detail))
    return 0


def _outputs(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root -> (inode, mtime_ns), to count what a run wrote again."""
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            st = os.stat(path)
            found[path] = (st.st_ino, st.st_mtime_ns)
    return found


def _rewritten(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> int:
    return sum(1 for path, sig in after.items() if before.get(path) != sig)


def run_tool(tool: str, work: Path, pelican_bin: Path, timeout: float) -> tuple[Run, Run | None]:
    """The cold run, then (unless it failed) the warm one, of one tool on one size."""
    if tool == "postroom":
        site, out = work / "postroom", work / "postroom" / "public"
        detail_file = work / "postroom-detail.json"

        def cmd(_phase: str) -> list[str]:
            return [sys.executable, __file__, "_postroom", str(site), str(detail_file)]

        cwd = site
    else:
        site, out = work / "pelican", work / "pelican" / "out"
        detail_file = None

        def cmd(phase: str) -> list[str]:
            extra = ["--ignore-cache"] if phase == "cold" else []
            return [str(pelican_bin), "content", "-s", "conf.py", "-o", "out", *extra]

        cwd = site
    runs: list[Run] = []
    before: dict[str, tuple[int, int]] = {}
    for phase in ("cold", "warm"):
        print(f"  {tool} {phase} ...", file=sys.stderr, flush=True)
        run = measure(cmd(phase), cwd, work / f"{tool}-{phase}.log", timeout)
        after = _outputs(out)
        run.files = len(after)
        run.rewritten = _rewritten(before, after)
        if detail_file is not None and detail_file.exists():
            run.detail = json.loads(detail_file.read_text())
            detail_file.unlink()
        elif tool == "pelican":
            log = (work / f"{tool}-{phase}.log").read_text(errors="replace").splitlines()
            run.detail = {"done": next((ln.strip() for ln in log if "Done:" in ln), "")}
        print(f"    {_fmt_s(run)} s, {_fmt_mb(run.rss_mb)} MB, {run.status}", file=sys.stderr)
        runs.append(run)
        before = after
        if run.status != "ok":
            break
    return runs[0], runs[1] if len(runs) > 1 else None


def profile_postroom(work: Path, top: int = 15) -> None:
    """cProfile of postroom's cold and warm scan+publish on a fresh copy of the site."""
    site = work / "postroom"
    shutil.rmtree(site / "public", ignore_errors=True)
    for db in site.glob("postroom.db*"):
        db.unlink()
    import pstats

    for phase in ("cold", "warm"):
        prof = work / f"postroom-{phase}.prof"
        subprocess.run(
            [sys.executable, __file__, "_postroom", str(site), str(work / "p.json"), str(prof)],
            check=True,
        )
        print(f"\npostroom {phase}, cProfile of scan+publish (main process), top {top} cumulative:")
        pstats.Stats(str(prof), stream=sys.stdout).strip_dirs().sort_stats(
            "cumulative"
        ).print_stats(top)


# ---------------------------------------------------------------- the table


def _fmt_s(run: Run | None) -> str:
    if run is None:
        return "-"
    if run.status == "timeout":
        return "timeout"
    return f"{run.seconds:.2f}" if run.seconds is not None and run.status == "ok" else "failed"


def _fmt_mb(mb: float | None) -> str:
    return f"{mb:.0f}" if mb is not None else "-"


def _ratio(a: Run | None, b: Run | None) -> str:
    if not (a and b and a.status == b.status == "ok" and a.seconds and b.seconds):
        return "-"
    return f"{a.seconds / b.seconds:.2f}x"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'posts':>7}  {'tool':<16} {'cold s':>8} {'warm s':>8} {'cold MB':>8} {'warm MB':>8}"
        f" {'files':>7} {'rewritten':>9}"
    )
    lines = [head, "-" * len(head)]
    by_size: dict[int, dict[str, tuple[Run, Run | None]]] = {}
    for r in results:
        by_size.setdefault(r["size"], {})[r["tool"]] = (r["cold_run"], r["warm_run"])
    for size, tools in by_size.items():
        for tool, (cold, warm) in tools.items():
            lines.append(
                f"{size:>7}  {tool:<16} {_fmt_s(cold):>8} {_fmt_s(warm):>8}"
                f" {_fmt_mb(cold.rss_mb):>8} {_fmt_mb(warm.rss_mb if warm else None):>8}"
                f" {cold.files if cold.files is not None else '-':>7}"
                f" {warm.rewritten if warm and warm.rewritten is not None else '-':>9}"
            )
        if len(tools) == 2:
            (pc, pw), (pec, pew) = tools["postroom"], tools["pelican"]
            lines.append(
                f"{size:>7}  {'pelican/postroom':<16} {_ratio(pec, pc):>8} {_ratio(pew, pw):>8}"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while the bench runs."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self._stop = every, [os.getloadavg()[0]], threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        s = self.samples
        return {"min": min(s), "mean": statistics.fmean(s), "max": max(s)}


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--sizes", type=_sizes, default=None, help="default 1000,10000,100000")
    args.add_argument("--quick", action="store_true", help="one small size (300) to try it out")
    args.add_argument("--tools", default=",".join(TOOLS), help="postroom,pelican")
    args.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    args.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    args.add_argument("--workdir", type=Path, help="where sites go (default: a temp folder)")
    args.add_argument("--keep", action="store_true", help="keep the generated sites")
    args.add_argument(
        "--pelican-layer",
        choices=("reader", "generator"),
        default="generator",
        help="Pelican's CONTENT_CACHING_LAYER (generator: its faster warm run here)",
    )
    args.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SIZE",
        help="afterwards, cProfile postroom's cold and warm runs at this size",
    )
    opts = args.parse_args()
    sizes = opts.sizes or ([300] if opts.quick else [1_000, 10_000, 100_000])
    tools = [t for t in opts.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        args.error(f"unknown tools: {', '.join(sorted(unknown))}")
    pelican_bin = ensure_pelican() if "pelican" in tools else Path()
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="postroom-buildbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sampler = LoadSampler()
    sampler.start()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for size in sizes:
        work = workdir / f"size-{size}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "postroom").mkdir(parents=True)
        (work / "postroom" / "postroom.toml").write_text(SITE_TOML)
        print(f"{size} posts: generating ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        generate(work / "postroom", size)
        if "pelican" in tools:
            write_pelican_site(work / "postroom" / "content", work / "pelican", opts.pelican_layer)
        print(f"  generated in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        for tool in tools:
            cold, warm = run_tool(tool, work, pelican_bin, opts.timeout)
            results.append({"size": size, "tool": tool, "cold_run": cold, "warm_run": warm})
        print(table(results), file=sys.stderr, flush=True)  # so far, in case of a kill
        if size == opts.profile and "postroom" in tools:
            profile_postroom(work)
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    load = sampler.stop()
    if not opts.keep and not opts.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    machine = {
        "nproc": len(os.sched_getaffinity(0)),
        "load_1min": load,
        "python": sys.version.split()[0],
        "pelican_pins": PELICAN_PINS[:2],
        "pelican_layer": opts.pelican_layer,
        "total_s": time.perf_counter() - started,
    }
    text = table(results)
    note = (
        f"\nseconds: wall of the measured process; MB: peak RSS (largest process of the run);"
        f"\nfiles: output files after cold; rewritten: files the warm run wrote again."
        f"\nnproc {machine['nproc']}, load (1 min) min {load['min']:.2f} mean {load['mean']:.2f}"
        f" max {load['max']:.2f}; total {machine['total_s']:.0f} s"
    )
    if opts.json:
        print(text + note, file=sys.stderr)
        doc = {
            "machine": machine,
            "runs": [
                {
                    "size": r["size"],
                    "tool": r["tool"],
                    "cold": asdict(r["cold_run"]),
                    "warm": asdict(r["warm_run"]) if r["warm_run"] else None,
                }
                for r in results
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(text + note)
        for r in results:
            if r["tool"] == "postroom":
                for phase in ("cold", "warm"):
                    run = r[f"{phase}_run"]
                    if run and run.detail:
                        d = run.detail
                        print(
                            f"  postroom {r['size']} {phase}: import {d['import_s']:.2f} s,"
                            f" scan {d['scan_s']:.2f} s, publish {d['publish_s']:.2f} s;"
                            f" main process {d['main_rss_mb']:.0f} MB; written {d['written']}"
                        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_measure":
        sep = sys.argv.index("--")
        sys.exit(_measure_child(*sys.argv[2:5], sys.argv[sep + 1 :]))
    if len(sys.argv) > 1 and sys.argv[1] == "_postroom":
        sys.exit(_postroom_child(sys.argv[2], sys.argv[3], (sys.argv[4:5] or [None])[0]))
    sys.exit(main())
