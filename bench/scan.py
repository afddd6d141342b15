"""Cold scan speed and memory: `content.intake.scan` of N posts into an empty store.

    python bench/scan.py [--sizes 1000,10000] [--kind markdown|mixed] [--repeat 1]
                         [--hugo] [--profile FILE] [--serial] [--keep DIR] [--delta]

Why: a cold build (empty store, no public/) is scan + publish; issue 19 wants the
whole of it within 2x Hugo's on the same Markdown posts. This measures the scan
half alone, each run in a fresh process (interpreter start and imports included),
next to peers measured in the same run, so that a ratio means something on a
loaded machine:
  floor   one process reads every file and renders it with markdown-it and
          nh3 (what any Python Markdown site pays; no store, no front matter)
  hugo    `hugo` on a minimal site with the same posts (pages + RSS), whole build
          (with --hugo; Debian's package)
Peak RSS: `main` is the scanning process's own ru_maxrss; `worker` the largest of
its parse workers (forkserver children: VmHWM read from /proc while they run,
they are not our children to wait for); `tree` the largest sum of the tree's
resident sizes seen at once. --kind mixed writes bench/ingest.py's half Markdown,
half raw captures. --serial parses in the scanning process (for --profile: cProfile
sees only that process). --delta then times, in one process, one new post scanned
by a full walk and by a delta scan of its path (the service's path on a file event),
alternated, and a scan with nothing new of each. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent
SITE_TOML = '[site]\nbase_url = "https://bench.example/"\n'
HUGO_CONFIG = (
    'baseURL = "https://bench.example/"\ntitle = "bench"\n'
    'disableKinds = ["taxonomy", "term"]\n[services.rss]\nlimit = 50\n'
)
HUGO_SINGLE = "<html><head><title>{{ .Title }}</title></head><body>{{ .Content }}</body></html>\n"
HUGO_LIST = (
    '<html><body><ul>{{ range first 50 .Pages }}<li><a href="{{ .Permalink }}">'
    "{{ .Title }}</a></li>{{ end }}</ul></body></html>\n"
)


def _child(site_root: str, result: str, profile: str | None, serial: bool) -> int:
    """In the measured process: one cold scan, timed, its own peak RSS."""
    import resource

    began = time.perf_counter()
    import postroom.content.intake as intake
    from postroom.core.config import open_site
    from postroom.store import Store

    if serial:
        intake._PARALLEL_FROM = 10**12  # parse here, where cProfile can see it
    imported = time.perf_counter()
    site = open_site(Path(site_root))
    store = Store(site.store_url)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    report = intake.scan(site, store)
    t1 = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    store.close()
    Path(result).write_text(
        json.dumps(
            {
                "import_s": imported - began,
                "scan_s": t1 - t0,
                "parsed": report.parsed,
                "new": len(report.new),
                "problems": len(report.problems),
                "main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "main_cpu": (lambda u: u.ru_utime + u.ru_stime)(
                    resource.getrusage(resource.RUSAGE_SELF)
                ),
            }
        )
    )
    return 0


def _delta_child(site_root: str, repeat: int) -> int:
    """One new post in a folder already scanned: a full walk's scan of it against a delta
    scan of its path alone (what the service runs on a file event), in this process,
    alternated so both see the same load; then a scan with nothing new of each kind."""
    from datetime import UTC, datetime

    from postroom.content.intake import ScanScope, scan
    from postroom.core.config import open_site
    from postroom.store import Store

    site = open_site(Path(site_root))
    store = Store(site.store_url)
    scan(site, store)  # whatever the cold run left undone
    folder = site.content_dir / "delta-bench"
    folder.mkdir(exist_ok=True)
    times: dict[str, list[float]] = {"full": [], "delta": [], "full idle": [], "delta idle": []}
    for n in range(repeat):
        for kind in ("full", "delta"):
            name = f"{kind}-{n}-{time.time_ns()}.md"
            (folder / name).write_text(
                f"---\ntitle: Delta bench {name}\ndate: 2026-12-01\n---\nOne new post.\n"
            )
            scope = ScanScope(frozenset({f"delta-bench/{name}"})) if kind == "delta" else None
            began = time.perf_counter()
            report = scan(site, store, datetime.now(UTC), scope=scope)
            times[kind].append(time.perf_counter() - began)
            assert len(report.new) == 1, report
            began = time.perf_counter()
            scan(site, store, datetime.now(UTC), scope=ScanScope() if scope else None)
            times[f"{kind} idle"].append(time.perf_counter() - began)
    store.close()
    files = sum(len(names) for _f, _d, names in os.walk(site.content_dir))
    line = ", ".join(f"{k} {min(v):.3f}/{sorted(v)[len(v) // 2]:.3f} s" for k, v in times.items())
    print(f"{files} files, one new post, min/median of {repeat}: {line} | load {_load()}")
    return 0


def _floor_child(site_root: str) -> int:
    """The peer: read, render and sanitize every post in one plain loop."""
    import nh3
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for folder, _dirs, names in os.walk(Path(site_root) / "content"):
        for name in names:
            text = (Path(folder) / name).read_text(encoding="utf-8")
            body = text.split("\n---\n", 1)[-1]
            nh3.clean(md.render(body))
    return 0


class TreeWatch(threading.Thread):
    """Polls /proc for a process and its descendants: each one's VmHWM (its peak RSS,
    kept by the kernel) and the largest sum of their VmRSS seen at one moment."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system), last seen
        self.tree_kb = 0
        self.done = threading.Event()

    def _tree(self) -> set[int]:
        """The process and its descendants, from each thread's children list."""
        tree, todo = set(), [self.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            try:
                threads = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for thread in threads:
                with contextlib.suppress(OSError):
                    kids = Path(f"/proc/{pid}/task/{thread}/children").read_text()
                    todo += map(int, kids.split())
        return tree

    @staticmethod
    def _status(pid: int) -> tuple[int, int]:
        hwm = rss = 0
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        except OSError:
            pass
        return hwm, rss

    def run(self) -> None:
        while not self.done.is_set():
            total = 0
            for pid in self._tree():
                hwm, rss = self._status(pid)
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / TICKS
                except (OSError, IndexError, ValueError):
                    pass
                total += rss
            self.tree_kb = max(self.tree_kb, total)
            self.done.wait(self.every)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(cmd: list[str], cwd: Path) -> dict:
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watch = TreeWatch(proc.pid)
    watch.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - began
    watch.done.set()
    watch.join()
    if proc.returncode:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode})")
    others = [kb for pid, kb in watch.peaks.items() if pid != proc.pid]
    return {
        "seconds": seconds,
        "self_mb": watch.peaks.get(proc.pid, 0) / 1024,
        "worker_mb": max(others, default=0) / 1024,
        "tree_mb": watch.tree_kb / 1024,
        "worker_cpu": sum(cpu for pid, cpu in watch.cpu.items() if pid != proc.pid),
        "self_cpu": watch.cpu.get(proc.pid, 0.0),
    }


def make_site(root: Path, size: int, kind: str) -> None:
    sys.path.insert(0, str(ROOT))
    root.mkdir(parents=True)
    (root / "postroom.toml").write_text(SITE_TOML)
    if kind == "markdown":
        from bench.markdown_posts import generate_markdown

        generate_markdown(root, size)
    else:
        from bench.ingest import generate

        generate(root, size)


def make_hugo(root: Path, site: Path) -> None:
    """The same Markdown posts as a minimal Hugo site (pages, home list, RSS)."""
    root.mkdir(parents=True)
    (root / "hugo.toml").write_text(HUGO_CONFIG)
    layouts = root / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (layouts / "single.html").write_text(HUGO_SINGLE)
    (layouts / "list.html").write_text(HUGO_LIST)
    shutil.copytree(site / "content", root / "content" / "posts")


def scan_once(py: str, site: Path, result: Path, opts: argparse.Namespace) -> tuple[dict, dict]:
    """One cold scan of `site` in a fresh process of `py`: (its measure, its own report)."""
    cmd = [py, __file__, "--child", str(site), str(result)]
    cmd += ["--serial"] if opts.serial else []
    cmd += ["--profile", opts.profile] if opts.profile else []
    got = measure(cmd, ROOT)
    return got, json.loads(result.read_text())


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--sizes", default="1000,10000")
    args.add_argument("--kind", choices=("markdown", "mixed"), default="markdown")
    args.add_argument("--repeat", type=int, default=1)
    args.add_argument("--hugo", action="store_true", help="also time hugo on the same posts")
    args.add_argument("--profile", help="cProfile the scanning process into this file")
    args.add_argument("--no-floor", action="store_true", help="skip the markdown-it peer")
    args.add_argument("--serial", action="store_true", help="parse in the scanning process")
    args.add_argument("--keep", help="generate into (and keep) this folder")
    args.add_argument(
        "--against", help="also scan with this Python's postroom (another checkout's venv)"
    )
    args.add_argument(
        "--delta",
        action="store_true",
        help="after the cold scan, time one new post: full walk vs delta scan (in-process)",
    )
    args.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args.add_argument("--floor", help=argparse.SUPPRESS)
    args.add_argument("--delta-child", help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.child:
        return _child(opts.child[0], opts.child[1], opts.profile, opts.serial)
    if opts.floor:
        return _floor_child(opts.floor)
    if opts.delta_child:
        return _delta_child(opts.delta_child, 5)
    work = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="scanbench-"))
    py = sys.executable
    try:
        for size in [int(s) for s in opts.sizes.split(",")]:
            site = work / f"{opts.kind}-{size}"
            if not site.exists():
                began = time.perf_counter()
                make_site(site, size, opts.kind)
                print(f"generated {size} {opts.kind} posts in {time.perf_counter() - began:.1f} s")
            hugo = work / f"hugo-{size}"
            if opts.hugo and opts.kind == "markdown" and not hugo.exists():
                make_hugo(hugo, site)
            for run in range(opts.repeat):
                for db in site.glob("postroom.db*"):
                    db.unlink()
                result = site / "result.json"
                load = _load()
                got, detail = scan_once(py, site, result, opts)
                if opts.against:
                    for db in site.glob("postroom.db*"):
                        db.unlink()
                    other, other_detail = scan_once(opts.against, site, result, opts)
                floor = {"seconds": float("nan"), "self_cpu": float("nan")}
                if not opts.no_floor:
                    floor = measure([py, __file__, "--floor", str(site)], ROOT)
                line = (
                    f"{size:>7} {opts.kind} run {run + 1}: scan {got['seconds']:6.2f} s "
                    f"(in-scan {detail['scan_s']:.2f}, imports {detail['import_s']:.2f}) "
                    f"rss main {detail['main_mb']:.0f} MB worker {got['worker_mb']:.0f} MB "
                    f"tree {got['tree_mb']:.0f} MB cpu main {detail['main_cpu']:.1f} s "
                    f"workers {got['worker_cpu']:.1f} s | floor {floor['seconds']:.2f} s "
                    f"(cpu {floor['self_cpu']:.1f} s) "
                    f"ratio {got['seconds'] / floor['seconds']:.2f}"
                )
                if opts.hugo and opts.kind == "markdown":
                    shutil.rmtree(hugo / "public", ignore_errors=True)
                    h = measure(["hugo", "--quiet"], hugo)
                    line += f" | hugo {h['seconds']:.2f} s ({h['self_mb']:.0f} MB)"
                    line += f" ratio {got['seconds'] / h['seconds']:.2f}"
                if opts.against:
                    line += (
                        f" | against {other['seconds']:.2f} s (in-scan {other_detail['scan_s']:.2f}"
                        f" main {other_detail['main_mb']:.0f} MB worker {other['worker_mb']:.0f} MB"
                        f" cpu main {other_detail['main_cpu']:.1f} s workers"
                        f" {other['worker_cpu']:.1f} s"
                        f") ratio {got['seconds'] / other['seconds']:.2f}"
                    )
                print(f"{line} | new {detail['new']} problems {detail['problems']} | load {load}")
                if opts.delta:
                    sys.stdout.flush()
                    subprocess.run([py, __file__, "--delta-child", str(site)], check=True)
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
