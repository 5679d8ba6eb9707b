"""CPU per page of the extraction worker's task against trafilatura.extract, on both corpora.

Every fetched HTML page runs ``crawler.workers.read_and_sign`` in an extraction worker:
read_page (decode, parse, page signals, extract_article, body_shape, classify) and, for
an article, its dedupe signature and compressed raw page. Its CPU per page is the bulk
of the crawl's CPU per stored article (issue 15: the whole crawl should cost at most
1.3x trafilatura.extract); this bench prints where it goes.

Both are run over the same pages in this process, alternately page by page, for ``--rounds``
rounds (the machine is shared: a busy moment then falls on both), with process time. Printed
per corpus: trafilatura.extract ms/page (as bench/crawl_throughput.py's floor calls it),
read_and_sign ms/page and the ratio (the median of the rounds' ratios), then the stages
of read_and_sign, timed by wrapping the functions it calls (inclusive: the trafilatura
runs are part of extract_article).

    python bench/page_cpu.py                 # both corpora, 3 rounds
    python bench/page_cpu.py --rounds 5 --corpus article-extraction
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import gzip
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import crawler.page.body as body_module  # noqa: E402
import crawler.page.extract as extract_module  # noqa: E402
import crawler.page.read as read_module  # noqa: E402
import crawler.workers as workers  # noqa: E402
from crawler.page.extract import ExtractionOptions  # noqa: E402
from dedupe import DedupeSettings  # noqa: E402
from dedupe.grouping import Deduper  # noqa: E402

BENCHMARKS = REPO.parent / "shared" / "benchmarks"
CORPORA = ("article-extraction", "readability-pages")

spent: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)


def timed(label: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
            calls[label] += 1
    return wrapper


# (label, module, attribute): each stage as the code that runs it looks it up.
STAGES = [
    ("parse_html", read_module, "parse_html"),
    ("page_signals", read_module, "page_signals"),
    ("extract_article", read_module, "extract_article"),
    ("  bare_extraction (all runs)", trafilatura, "bare_extraction"),
    ("  locating the precision shell", body_module, "_shell_container"),
    ("  htmldate", extract_module, "htmldate_published"),
    ("  find_authors", extract_module, "find_authors"),
    ("  apply_generic_rules", extract_module, "apply_generic_rules"),
    ("body_shape", read_module, "body_shape"),
    ("page_links", read_module, "page_links"),
    ("signature", Deduper, "signature"),
    ("compress_raw_html", workers, "compress_raw_html"),
]


def instrument() -> None:
    for label, owner, name in STAGES:
        setattr(owner, name, timed(label, getattr(owner, name)))


def load_corpus(name: str) -> list[tuple[str, bytes]]:
    root = BENCHMARKS / name
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [(truth[i].get("url") or f"https://{name}.invalid/{i}",
             gzip.decompress((root / "html" / f"{i}.html.gz").read_bytes())) for i in sorted(truth)]


def run(corpus: str, pages: list[tuple[str, bytes]], rounds: int) -> None:
    options, dedupe = ExtractionOptions(), DedupeSettings()
    fetched_at = dt.datetime.now(dt.timezone.utc)
    for url, html in pages:  # warm: rarity tables of every language, lazily built caches
        workers.read_and_sign(html, url, "text/html", fetched_at, options, dedupe)
    ratios, floor, worker = [], [], []
    spent.clear()
    calls.clear()
    articles = 0
    for _ in range(rounds):
        floor_seconds = worker_seconds = 0.0
        for url, html in pages:  # page by page, alternately: a busy spell falls on both about equally
            started = time.process_time()
            trafilatura.extract(html, include_comments=False)
            floor_seconds += time.process_time() - started
            started = time.process_time()
            reading, signature, _ = workers.read_and_sign(html, url, "text/html", fetched_at, options, dedupe)
            worker_seconds += time.process_time() - started
            articles += signature is not None
        floor.append(floor_seconds)
        worker.append(worker_seconds)
        ratios.append(worker_seconds / floor_seconds)
    n = len(pages)
    per_page = lambda seconds: 1000 * seconds / n  # noqa: E731
    print(f"{corpus}: {n} pages, {articles // rounds} read as articles, {rounds} rounds")
    print(f"  trafilatura.extract  {per_page(statistics.median(floor)):6.1f} CPU ms/page")
    print(f"  read_and_sign        {per_page(statistics.median(worker)):6.1f} CPU ms/page  "
          f"= x{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    for label, _, _ in STAGES:
        if calls[label]:
            print(f"    {label:<30} {per_page(spent[label] / rounds):6.1f} ms/page  ({calls[label] / rounds / n:.2f} calls/page)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", choices=CORPORA, action="append")
    args = parser.parse_args()
    instrument()
    for corpus in args.corpus or CORPORA:
        run(corpus, load_corpus(corpus), args.rounds)


if __name__ == "__main__":
    main()
