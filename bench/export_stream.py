"""Export throughput and memory: `newscrawl export` streams at constant memory.

Fills a temporary SQLite database with synthetic articles (bulk executemany in
batches), then exports the `clean_articles` view in each format at two sizes
(by default 100,000 and 1,000,000 rows) and prints, per run: seconds, rows/s,
output size and peak RSS growth. Each export runs in a fresh child process; the
growth is its peak RSS during the export (VmHWM, reset just before the export
starts) minus its RSS after imports and connecting.

If the export streams, the growth is about the same at both sizes; if it
buffered the rows, the larger size would grow ~10x more.

    .venv/bin/python bench/export_stream.py                    # 100k and 1M rows
    .venv/bin/python bench/export_stream.py --rows 200000 --small 20000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FORMATS = ("jsonl", "csv", "parquet")
INSERT_BATCH = 20_000
WORDS = ("government parliament minister economy budget energy reactor exports talks delegation "
         "military ports sanctions inflation central bank rate wheat shipment festival growers "
         "exhibition museum record crowds contract consortium pipeline gas transit corridor").split()

INSERT_SQL = """
INSERT INTO articles (id, url, canonical_url, site, site_name, title, authors, published_at, language, text,
    image, section, tags, content_hash, raw_html, raw_encoding, extractor_version, block_hashes, removed_blocks,
    boilerplate_version, fetched_at, dup_group_id, dup_similarity, is_canonical, story_id, story_similarity)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '[]', 0, ?, ?, ?, ?, ?, ?)
"""


def synthetic_rows(start: int, stop: int, rng: random.Random):
    """Articles shaped like real ones: ~700 characters of text, 5% without a date, 1 in 5 a copy."""
    for i in range(start, stop):
        site = f"site{i % 50}.example"
        words = rng.choices(WORDS, k=100)
        text = "\n".join(" ".join(words[n:n + 20]).capitalize() + "." for n in range(0, 100, 20))
        day = 1 + i % 28
        published = None if i % 20 == 0 else f"2026-02-{day:02d} {i % 24:02d}:{i % 60:02d}:00.000000"
        is_copy = i % 5 == 4
        group = i - 1 if is_copy else i
        yield (
            i, f"https://{site}/news/{i}?utm_source=feed", f"https://{site}/news/{i}", site, f"Site {i % 50}",
            " ".join(words[:9]).capitalize(), json.dumps([f"Author {i % 997}"]), published, "en", text,
            f"https://{site}/img/{i}.jpg", "World", json.dumps(["politics", "economy"]) if i % 3 else "[]",
            f"{i:064x}", b"x", "utf-8", "newscrawl-bench", f"2026-03-01 {i % 24:02d}:00:00.000000",
            group, 0.93 if is_copy else None, 0 if is_copy else 1, group - group % 10, None,
        )


def fill(db_path: Path, start: int, stop: int, seed: int = 7) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous=OFF")  # a throwaway database: speed over durability
    rng = random.Random(seed + start)
    rows = synthetic_rows(start, stop, rng)
    while True:
        batch = [row for _, row in zip(range(INSERT_BATCH), rows)]
        if not batch:
            break
        with conn:
            conn.executemany(INSERT_SQL, batch)
    conn.close()
    return time.perf_counter() - started


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def start_peak_window() -> int:
    """Reset the peak-RSS mark to the current RSS (Linux) and return the current RSS in bytes.

    getrusage's ru_maxrss alone is not enough here: Linux carries the maximum over
    fork and exec, so a child would start with its parent's peak (the parent holds
    insert batches). Writing 5 to /proc/self/clear_refs resets VmHWM (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        current = _proc_status_kib("VmRSS")
        if current is not None:
            return current * 1024
    except OSError:
        pass
    return peak_rss_bytes()  # elsewhere: growth of the process's own peak, a lower bound


def peak_rss_bytes() -> int:
    peak_kib = _proc_status_kib("VmHWM")
    if peak_kib is not None:
        return peak_kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def measure(fmt: str, url: str, out: str, batch_size: int) -> dict:
    """Runs in the child: one export, its time and its own peak RSS growth."""
    import pyarrow.parquet  # noqa: F401 - imported before the baseline, for every format alike

    from crawler.ops.export import export
    from models.db import make_engine

    engine = make_engine(url)
    with engine.connect():
        pass
    baseline = start_peak_window()
    started = time.perf_counter()
    rows = export(engine, fmt, out, batch_size=batch_size)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": rows, "seconds": seconds, "rss_growth": peak_rss_bytes() - baseline,
            "bytes": os.path.getsize(out)}


def run_child(fmt: str, url: str, out: Path, batch_size: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", fmt, "--db", url, "--out", str(out), "--batch-size", str(batch_size)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"export {fmt} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows at the large size (default 1,000,000)")
    parser.add_argument("--small", type=int, help="rows at the small size (default rows / 10)")
    parser.add_argument("--batch-size", type=int, default=5_000, help="rows per fetch and per write (default 5000)")
    parser.add_argument("--measure", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.db, args.out, args.batch_size)))
        return

    from models.db import upgrade

    small = args.small or max(1, args.rows // 10)
    if not 0 < small < args.rows:
        raise SystemExit("--small must be between 0 and --rows")
    with tempfile.TemporaryDirectory(prefix="newscrawl-export-bench-") as tmp:
        db_path = Path(tmp) / "bench.db"
        url = f"sqlite:///{db_path}"
        upgrade(url)
        results: dict[int, dict[str, dict]] = {}
        filled = 0
        print(f"Export of the clean_articles view, SQLite, batch size {args.batch_size}")
        print(f"{'rows':>9}  {'format':<8}  {'seconds':>8}  {'rows/s':>9}  {'output MB':>9}  {'peak RSS growth MB':>18}")
        for size in (small, args.rows):
            seconds = fill(db_path, filled, size)
            print(f"  (inserted {size - filled:,} rows in {seconds:.1f} s, "
                  f"{(size - filled) / seconds:,.0f} rows/s; database {db_path.stat().st_size / 1e6:,.0f} MB)")
            filled = size
            results[size] = {}
            for fmt in FORMATS:
                out = Path(tmp) / f"export.{fmt}"
                figures = run_child(fmt, url, out, args.batch_size)
                out.unlink()
                assert figures["rows"] == size, figures
                results[size][fmt] = figures
                print(f"{size:>9,}  {fmt:<8}  {figures['seconds']:>8.1f}  {size / figures['seconds']:>9,.0f}  "
                      f"{figures['bytes'] / 1e6:>9.1f}  {figures['rss_growth'] / 1e6:>18.1f}")
        print(f"\nPeak RSS growth, {args.rows:,} rows vs {small:,} rows ({args.rows / small:.0f}x the rows):")
        for fmt in FORMATS:
            low, high = results[small][fmt]["rss_growth"], results[args.rows][fmt]["rss_growth"]
            print(f"  {fmt:<8} {low / 1e6:6.1f} MB -> {high / 1e6:6.1f} MB  ({(high - low) / 1e6:+.1f} MB)")


if __name__ == "__main__":
    main()
