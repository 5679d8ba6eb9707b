"""`newscrawl ingest` throughput and peak memory, against the trafilatura-only floor; WARC read speed.

Builds a CC-NEWS-layout WARC (one gzip member per record, request + response +
metadata per page) of the public benchmark's real news pages
(../shared/benchmarks/article-extraction), each page under several URLs on several
sites, runs the real `newscrawl ingest` on it into a fresh SQLite database, and
prints articles stored per second against plain trafilatura on one core on the same
pages in the same run (the floor code of bench/crawl_throughput.py), and the peak
PSS of the ingest's whole process tree.

It also times reading the same file with warcio (what newscrawl uses) and FastWARC
(Resiliparse), when installed: records/s and MB/s of the file, payloads read.

    python bench/warc_ingest.py                     # 181 pages x 3, read speeds
    python bench/warc_ingest.py --records 10000     # the 10k-record memory run
"""
from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from crawl_throughput import (  # noqa: E402
    TreeSampler,
    load_pages,
    run_sampled,
    summary_lines,
    trafilatura_floor,
)
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402


def build_warc(path: Path, pages, records: int, n_sites: int) -> int:
    """``records`` response records: the pages in turn, each on the next site. Returns the count."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for n in range(records):
            page_id, slug, html = pages[n % len(pages)]
            round_ = n // len(pages)
            site = (n + round_) % n_sites
            url = f"https://www.bench{site:03d}-news.com/2019/11/{page_id[:10]}-{slug}-{round_}/"  # one registered domain per site
            host = url.split("/")[2]
            request = writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(f"GET {url.split(host, 1)[1]} HTTP/1.1",
                                              [("Host", host), ("User-Agent", "bench")], is_http_request=True))
            response = writer.create_warc_record(
                url, "response", payload=io.BytesIO(html),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                         ("Content-Length", str(len(html)))], protocol="HTTP/1.1"))
            metadata = writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 100\r\n"),
                                                 warc_content_type="application/warc-fields")
            for record in (request, response, metadata):
                writer.write_record(record)
    return records


def read_with_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    count = 0
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            if record.rec_type == "response":
                record.content_stream().read()
                count += 1
    return count


def read_with_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    count = 0
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response, parse_http=True,
                                      verify_digests=True):
            record.reader.read()
            count += 1
    return count


def time_reads(path: Path, repeat: int = 3) -> None:
    size_mb = path.stat().st_size / 1e6
    for name, reader in (("warcio", read_with_warcio), ("fastwarc", read_with_fastwarc)):
        try:
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                count = reader(path)
                best = min(best, time.perf_counter() - started)
        except ImportError:
            print(f"  {name}: not installed")
            continue
        print(f"  {name:<9} {count / best:8.0f} response records/s  {size_mb / best:6.1f} MB/s "
              f"(best of {repeat}, digests verified, payloads read)")


def ingest(warc: Path, db: Path, overrides: list[str]) -> tuple[float, TreeSampler, str]:
    command = [str(Path(sys.executable).parent / "newscrawl"), "ingest", "--db", f"sqlite:///{db}", str(warc)]
    return run_sampled(command, overrides, "ingest")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=0, help="response records (default: the pages x 3)")
    parser.add_argument("--sites", type=int, default=0,
                        help="sites the records are spread over (default: one per 45 records, at least 12, "
                        "as bench/crawl_throughput.py does)")
    parser.add_argument("--no-reads", action="store_true", help="skip the warcio/FastWARC read timing")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="extra setting for the ingest (repeatable)")
    args = parser.parse_args()

    pages = load_pages()
    records = args.records or len(pages) * 3
    args.sites = args.sites or max(12, records // 45)
    floor = trafilatura_floor(pages)
    print(f"trafilatura-only floor (one core, {len(pages)} pages): {floor:.1f} pages/s, {1000 / floor:.1f} ms/page")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warc = tmp / "bench.warc.gz"
        build_warc(warc, pages, records, args.sites)
        print(f"WARC: {records} response records ({len(pages)} benchmark pages, each under "
              f"{-(-records // len(pages))} URLs on {args.sites} sites), {warc.stat().st_size / 1e6:.1f} MB, "
              f"CC-NEWS layout")
        if not args.no_reads:
            print("reading the file (no pipeline):")
            time_reads(warc)
        seconds, sampler, out = ingest(warc, tmp / "ingest.db", args.overrides)
        with sqlite3.connect(tmp / "ingest.db") as db:
            stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        rate = stored / seconds
        print(f"\nnewscrawl ingest ({os.cpu_count()} cores):")
        for line in summary_lines(out):
            print(f"  {line}")
        print(f"  {stored} articles stored in {seconds:.1f} s: {rate:.1f} articles/s = {rate / floor:.2f}x the "
              f"one-core floor ({records / seconds:.1f} records/s)")
        print(f"  memory: peak PSS of the process tree {sampler.peak_pss:.0f} MB "
              f"(summed RSS, shared pages counted per process: {sampler.peak_rss:.0f} MB)")
        print(f"  CPU per record: ingest process {sampler.cpu_main / records * 1000:.1f} ms, "
              f"workers {sampler.cpu_others / records * 1000:.1f} ms")
        cores = os.cpu_count() or 1
        print(f"  cores busy: {sampler.cpu_total / sampler.wall:.2f} over the command's {sampler.wall:.1f} s; "
              f"machine: {sampler.utilisation(cores)}")
        # Short of CPU, not serialised, when this is near the measured rate (see the pool line above).
        print(f"  CPU-bound rate ({cores} cores, all ours, at this CPU per article): "
              f"{cores * stored / sampler.cpu_total:.1f} articles/s over the whole command; measured "
              f"{stored / sampler.wall:.1f}")


if __name__ == "__main__":
    main()
