"""End-to-end crawl throughput against the trafilatura-only floor.

Serves the public benchmark's real news pages (../shared/benchmarks/article-extraction)
on loopback, each page on several local sites, with a home page and a sitemap per site.
It runs the real `newscrawl crawl` (politeness off) into a fresh SQLite database and
prints pages/s. On the same pages, in this process and on one core, it measures plain
trafilatura extraction: the floor a crawler that extracts every page cannot beat on one core.

    python bench/crawl_throughput.py [--copies 2] [--sites 8]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.sampleserver import serve_sample_sites  # noqa: E402

BENCH_DIR = REPO.parent / "shared" / "benchmarks" / "article-extraction"


def load_pages() -> list[tuple[str, str, bytes]]:
    truth = json.loads((BENCH_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        html = gzip.decompress((BENCH_DIR / "html" / f"{page_id}.html.gz").read_bytes())
        slug = re.sub(r"[^a-z0-9]+", "-", entry["url"].rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")[:60] or "story"
        pages.append((page_id, slug, html))
    return pages


def build_sites(root: Path, pages, n_sites: int, copies: int) -> int:
    """Write sample-site trees: page i is served by `copies` of the `n_sites` sites."""
    served = 0
    for s in range(n_sites):
        site = root / f"bench{s:02d}"
        (site / "public").mkdir(parents=True)
        paths = []
        for i, (page_id, slug, html) in enumerate(pages):
            if (i - s) % n_sites >= copies:
                continue
            path = f"/2019/11/{page_id[:10]}-{slug}/"
            target = site / "public" / path.strip("/")
            target.mkdir(parents=True)
            (target / "index.html").write_bytes(html)
            paths.append(path)
        served += len(paths)
        links = "\n".join(f'<li><a href="{p}">Story {n}</a></li>' for n, p in enumerate(paths))
        (site / "public" / "index.html").write_text(
            f"<html><head><title>Bench {s}</title></head><body><ul>{links}</ul></body></html>", encoding="utf-8"
        )
        urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in paths)
        (site / "public" / "sitemap.xml").write_text(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
            encoding="utf-8",
        )
        (site / "public" / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        (site / "site.toml").write_text(f'slug = "bench{s:02d}"\nname = "Bench {s}"\nstart = ["/sitemap.xml"]\n')
    return served


def trafilatura_floor(pages) -> float:
    started = time.perf_counter()
    for _, _, html in pages:
        trafilatura.extract(html, include_comments=False)
    return len(pages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=8, help="local sites to spread the pages over")
    parser.add_argument("--copies", type=int, default=2, help="sites that serve each page")
    args = parser.parse_args()

    pages = load_pages()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        served = build_sites(tmp / "sites", pages, args.sites, args.copies)
        with serve_sample_sites(tmp / "sites") as sites:
            sites_file = tmp / "sites.toml"
            sites_file.write_text(sites.sites_toml(), encoding="utf-8")
            db = f"sqlite:///{tmp / 'bench.db'}"
            command = [
                str(Path(sys.executable).parent / "newscrawl"), "crawl", "--db", db, "--allow-private",
                "--sites", str(sites_file), "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0",
                "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
                # sitemap -> article only: the benchmark pages link to their original sites' paths,
                # which would be 404s here.
                "--set", "DEPTH_LIMIT=1",
            ]
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            crawl_seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"crawl failed:\n{result.stdout}\n{result.stderr[-3000:]}")
        summary = result.stdout.strip().splitlines()

    floor = trafilatura_floor([p for p in pages])
    crawl_rate = served / crawl_seconds
    print(f"pages served: {served} ({len(pages)} benchmark pages x {args.copies} sites, {args.sites} sites)")
    for line in summary[:4]:
        print(f"  {line}")
    print(f"crawl (newscrawl crawl, process start to exit): {crawl_seconds:.2f} s, {crawl_rate:.1f} article pages/s")
    print(f"trafilatura-only floor (one core, same pages): {floor:.1f} pages/s, {1000 / floor:.1f} ms/page")
    print(f"ratio crawl / floor: {crawl_rate / floor:.2f}")


if __name__ == "__main__":
    main()
