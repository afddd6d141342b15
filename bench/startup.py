"""Start-up: the wall time of `postroom --help` and `postroom status` (text and --json),
next to a bare `python -c pass` (the interpreter's own start) in the same run.

    python bench/startup.py [--runs 10] [--site DIR]

Each command is run `--runs` times, the commands interleaved round by round so that a
change in the machine's load falls on all of them alike; printed: the median and best
wall time, the median's ratio to the bare interpreter's, and the median CPU time (user
+ system), which a busy machine sways less than the wall time. `status` runs on two
SQLite sites made here: an empty one (`postroom init`, then one `status` to make its
store) and the bundled example after `run --once --no-send` (posts, a problem, a build);
`--site DIR` adds one of yours. Goal (issue 19): `--help` and `status` under 0.3 s.
Bytecode is cached as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped for the
commands timed). Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.3  # seconds, wall
# the console script pip made beside this interpreter: what a user types
POSTROOM = Path(sys.executable).parent / "postroom"


def wall(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to exit, and the CPU seconds (user + system) the command used:
    less swayed by the machine's load than the wall time. A command that fails is a
    broken bench, not a number."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def sites(work: Path, env: dict[str, str]) -> dict[str, Path]:
    """The empty site and the example site, each with its store made and current."""
    empty = work / "empty"
    subprocess.run([str(POSTROOM), "init", str(empty)], env=env, check=True, capture_output=True)
    made = [str(POSTROOM), "--site", str(empty), "status"]
    subprocess.run(made, env=env, check=True, capture_output=True)
    example = work / "example"
    outputs = shutil.ignore_patterns("public", "postroom.db*", "outbox", "preview")
    shutil.copytree(ROOT / "examples" / "site", example, ignore=outputs)
    once = [str(POSTROOM), "--site", str(example), "run", "--once", "--no-send"]
    subprocess.run(once, env=env, check=True, capture_output=True)
    return {"empty": empty, "example": example}


def main(argv: list[str] | None = None) -> int:
    """Run and print; `argv` as the command line's (bench-scale may call this with [])."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--runs", type=int, default=10)
    options.add_argument("--site", type=Path, help="also time `status` on this site")
    options.add_argument("--json", action="store_true", help="medians as JSON (bench-scale)")
    args = options.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
    # as a user runs it: bytecode cached (pip compiles a wheel's at install; a checkout's
    # is written by its first run, here the warm-up), not every module compiled each run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="postroom-startup-") as tmp:
        made = sites(Path(tmp), env)
        if args.site:
            made["yours"] = args.site.resolve()
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "postroom --help": [str(POSTROOM), "--help"],
        }
        for name, root in made.items():
            commands[f"status ({name})"] = [str(POSTROOM), "--site", str(root), "status"]
            commands[f"status --json ({name})"] = [*commands[f"status ({name})"], "--json"]
        for command in commands.values():  # warm the page cache and .pyc files: not timed
            wall(command, env)
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                took, cpu = wall(command, env)
                times[name].append(took)
                cpus[name].append(cpu)
        load_after = os.getloadavg()
    bare = statistics.median(times["python -c pass"])
    if args.json:
        medians = {
            name: {"wall_s": statistics.median(t), "cpu_s": statistics.median(cpus[name])}
            for name, t in times.items()
        }
        json.dump({"medians": medians, "runs": args.runs}, sys.stdout, indent=1)
        print()
        return 0
    print(f"start-up, seconds over {args.runs} interleaved runs (goal: wall < {GOAL} s)")
    print(f"{'command':30} {'wall median':>11} {'best':>6} {'x python':>8} {'cpu median':>10}")
    for name, taken in times.items():
        median = statistics.median(taken)
        mark = "" if name == "python -c pass" else ("  ok" if median < GOAL else "  over")
        cpu = statistics.median(cpus[name])
        print(f"{name:30} {median:11.3f} {min(taken):6.3f} {median / bare:8.1f} {cpu:10.3f}{mark}")
    loads = " ".join(f"{x:.2f}" for x in load_before), " ".join(f"{x:.2f}" for x in load_after)
    print(f"machine: nproc {os.cpu_count()}, loadavg before {loads[0]}, after {loads[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
