"""Runs every benchmark in bench/ and prints each figure beside its target.

A benchmark is a script ``bench/bench_*.py`` that prints one line per measured figure:

    RESULT <name> <value> <unit> target <op> <target> [note...]

with ``<op>`` one of ``>=`` or ``<=``, and any informational figure (one with no target of
its own, e.g. the same measure on another database) as

    INFO <name> <value> <unit> [note...]

shown in the table with the result "info". This runner runs each script in its own process
(so one's memory does not weigh on the next), collects those lines and prints the table.
``make bench`` runs it; ``python bench/run.py NAME...`` runs only the named ones.

Before each script a fixed pure-Python loop is timed (the "CPU probe", best of three): on a
shared machine the same code runs a third slower at times, and a figure is only comparable
with another taken at a like probe. Each row of the table carries the probe of its run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed loop of Python arithmetic, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    rows: list[tuple[str, str, str, str, str]] = []
    failed = False
    for script in scripts:
        probe = f"cpu probe {cpu_probe_ms():.0f} ms"
        print(f"--- {script.stem} ({probe})", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")},
                              check=False)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed = True
            sys.stdout.write(proc.stderr[-4000:])
            rows.append((script.stem, "ERROR", "", "", f"exit {proc.returncode}"))
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 7 and parts[0] == "RESULT" and parts[4] == "target":
                name, value, unit, op, target = parts[1], parts[2], parts[3], parts[5], parts[6]
                ok = float(value) >= float(target) if op == ">=" else float(value) <= float(target)
                rows.append((name, f"{value} {unit}", f"{op} {target}", "ok" if ok else "MISSED",
                             " ".join([*parts[7:], f"({probe})"])))
            elif len(parts) >= 4 and parts[0] == "INFO":
                rows.append((parts[1], f"{parts[2]} {parts[3]}", "", "info",
                             " ".join([*parts[4:], f"({probe})"])))
        print(f"    ({time.monotonic() - started:.1f} s)", flush=True)
    print()
    print(f"{'benchmark':48} {'figure':>22} {'target':>14}  result")
    for name, figure, target, result, note in rows:
        print(f"{name:48} {figure:>22} {target:>14}  {result} {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
