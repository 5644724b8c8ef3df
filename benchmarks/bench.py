"""Benchmarks (plain Python, time.perf_counter): run `python benchmarks/bench.py` from the checkout.

Prints: `rulesctl score` wall time (year cached); load-and-compile time of a year; per-submission
scoring time of the engine (inputs parsed beforehand, and from the record as read, as batch scores
it) and of the hand-written reference scorer on the same synthetic submissions, and their ratio
(also from interleaved runs); batch throughput with the local engine (all cores); an impact study
over a table of category scores. Options: --n 10000 --batch 100000 --table 20000 --year 2024.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.reference_2024 import Reference, Rejected, score_record  # noqa: E402
from mips_rules.dsl.errors import RulesError  # noqa: E402
from mips_rules.engine.populations.batch import run_local  # noqa: E402
from mips_rules.engine.populations.batch import score_record as score_population_record  # noqa: E402
from mips_rules.engine.inputs.context import parse_context  # noqa: E402
from mips_rules.engine.scoring.score import score  # noqa: E402
from mips_rules.engine.inputs.submission import parse_submission  # noqa: E402
from mips_rules.engine.populations.synth import Synthesizer, write_population  # noqa: E402
from mips_rules.engine.years import loader  # noqa: E402
from mips_rules.engine.years.loader import load_year  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--table", type=int, default=20_000, help="rows of the impact study's table (0: none)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    command_times(args.year)

    with tempfile.TemporaryDirectory() as cache:  # a cold cache first, then loads from it
        os.environ["XDG_CACHE_HOME"] = cache
        cold = []
        for _ in range(3):
            for entry in Path(cache).rglob("*.pickle"):
                entry.unlink()
            loader._PREFIXES.clear()  # nor the layers an earlier load read (a reform's shortcut)
            t = time.perf_counter()
            load_year(args.year, ROOT / "rules")
            cold.append(time.perf_counter() - t)
        edited = []  # the compiled year missing (a file of it edited), its rule files parsed before
        for _ in range(3):
            for entry in (Path(cache) / "mips-rules" / "years").glob("*.pickle"):
                entry.unlink()
            loader._PREFIXES.clear()
            t = time.perf_counter()
            load_year(args.year, ROOT / "rules")
            edited.append(time.perf_counter() - t)
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            year = load_year(args.year, ROOT / "rules")
            warm.append(time.perf_counter() - t)
    print(f"load and compile {args.year} with CMS's complete data: {min(cold) * 1000:.0f} ms without any cache, "
          f"{min(edited) * 1000:.0f} ms with its rule files parsed before (a file edited), {min(warm) * 1000:.0f} ms "
          f"from the compiled-year cache (best of 3, 3 and 5)")

    records = [json.loads(json.dumps(r), parse_float=Decimal) for r in Synthesizer(year, 1).records(args.n)]
    parsed = []
    for r in records:
        parsed.append((parse_submission(r["submission"]), parse_context(r["context"], year=year)))
    t = time.perf_counter()
    for sub, ctx in parsed:
        try:
            score(year, sub, ctx, detail=False)  # what batch computes: scores, weights, adjustment
        except RulesError:
            pass
    engine = (time.perf_counter() - t) / len(parsed)
    ref = Reference.from_year(year)
    t = time.perf_counter()
    for r in records:
        try:
            score_record(ref, r["submission"], r["context"])
        except Rejected:
            pass
    reference = (time.perf_counter() - t) / len(records)
    print(f"engine: {engine * 1e3:.3f} ms per submission ({1 / engine:,.0f} per second per core; inputs parsed "
          f"beforehand)")
    print(f"reference scorer: {reference * 1e3:.3f} ms per submission; engine / reference = {engine / reference:.1f}×")
    # What batch does for each record, from the record as read (the reference starts there too):
    # plainly valid inputs checked in plain Python, the report, its compact view.
    t = time.perf_counter()
    for n, r in enumerate(records, 1):
        score_population_record(year, r, n)
    raw = (time.perf_counter() - t) / len(records)
    print(f"engine from the record as read (what batch does, JSON parsing aside): {raw * 1e3:.3f} ms per "
          f"submission; ÷ reference = {raw / reference:.1f}×")
    ratios = []
    for _ in range(5):  # interleaved: the machine's speed drifts between runs
        t = time.perf_counter()
        for n, r in enumerate(records[:2000], 1):
            score_population_record(year, r, n)
        e = time.perf_counter() - t
        t = time.perf_counter()
        for r in records[:2000]:
            try:
                score_record(ref, r["submission"], r["context"])
            except Rejected:
                pass
        ratios.append(e / (time.perf_counter() - t))
    ratios.sort()
    print(f"engine from the record ÷ reference, interleaved runs: median {ratios[2]:.1f}× (range {ratios[0]:.1f}–"
          f"{ratios[-1]:.1f}×)")

    with tempfile.TemporaryDirectory() as tmp:
        population = Path(tmp) / "pop.jsonl"
        t = time.perf_counter()
        write_population(year, args.batch, 7, population)
        made = time.perf_counter() - t
        t = time.perf_counter()
        stats = run_local(population, Path(tmp) / "out.jsonl", args.year, rules=ROOT / "rules")
        elapsed = time.perf_counter() - t
    print(f"batch: {stats.records:,} submissions in {elapsed:.1f} s = {stats.records / elapsed:,.0f} per second "
          f"on {os.cpu_count()} cores (synthesis took {made:.1f} s; {stats.failed} rejected records)")
    if args.table:
        impact_time(args.year, args.table)


def command_times(year: int) -> None:
    """`rulesctl score` of the year's full example, wall time of the whole command (the compiled
    year cached by a first run): best and median of 10."""
    import statistics
    import subprocess

    exe = _console_script("rulesctl")
    if exe is None:
        print("rulesctl score: not installed (pip install -e .)")
        return
    command = [exe, "score", str(ROOT / "examples" / f"{year}-full.json"),
               "-c", str(ROOT / "examples" / f"{year}-full-context.yaml")]
    # As installed: bytecode written once (pip does it at install; PYTHONDONTWRITEBYTECODE, set on
    # some machines, would have every run compile the project's modules again, about 0.1 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, capture_output=True, check=False, env=env)
    times = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, env=env)
        times.append(time.perf_counter() - t)
    print(f"rulesctl score (wall, year cached): best {min(times):.2f} s, median {statistics.median(times):.2f} s")


def _console_script(name: str) -> str | None:
    """The command as this interpreter installed it (not a version manager's shim in front of it,
    which adds its own start-up time), else whatever PATH finds."""
    import shutil
    import sysconfig

    installed = Path(sysconfig.get_path("scripts")) / name
    return str(installed) if installed.is_file() else shutil.which(name)


def impact_time(year: int, rows: int) -> None:
    """`rulesctl impact` of a threshold change over a table of category scores (seeded random rows
    in CMS's QPP Experience columns), as an analyst runs it."""
    import csv
    import random
    import subprocess

    exe = _console_script("rulesctl")
    if exe is None:
        return
    r = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "puf.csv"
        with table.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["npi", "quality category score", "cost category score",
                        "improvement activities (ia) category score", "promoting interoperability (pi) category score",
                        "small practice status", "rural status", "allowed charges", "medicare patients", "services",
                        "reporting option", "complex patient bonus"])
            for i in range(rows):
                w.writerow([1000000000 + i, round(r.uniform(20, 100), 2),
                            round(r.uniform(0, 100), 2) if r.random() < .7 else "",
                            r.choice([0, 15, 20, 30, 40, 40, 40]), r.choice(["", 0, 60, 75, 88, 100]),
                            r.random() < .2, r.random() < .15, round(r.uniform(30000, 900000), 2),
                            r.randint(200, 3000), r.randint(200, 5000),
                            r.choice(["Traditional MIPS"] * 8 + ["APP", "MIPS Value Pathways"]),
                            r.choice(["", 0, 1.5, 3.2, 5])])
        t = time.perf_counter()
        done = subprocess.run([exe, "impact", str(year), "--set", "program.performance_threshold=80", "-p", str(table),
                               "-f", "json", "-o", str(Path(tmp) / "study.json")], capture_output=True, check=False)
        elapsed = time.perf_counter() - t
    print(f"impact, a table of {rows:,} rows (threshold 80, both years): {elapsed:.1f} s "
          f"({elapsed / rows * 1e3:.3f} ms a row; exit {done.returncode})")


if __name__ == "__main__":
    main()
