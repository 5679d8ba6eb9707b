"""End-to-end crawl throughput and peak memory, against the trafilatura-only floor.

Serves the public benchmark's real news pages (../shared/benchmarks/article-extraction)
on loopback: every page under several URLs, spread over many local sites, each with a
sitemap. Runs the real `newscrawl crawl` with politeness off into a fresh SQLite database,
once with the extraction process pool (the default) and once in-process, and prints pages/s
and the peak RSS of the crawl's whole process tree. On the same pages, in this process and
on one core, it measures plain trafilatura extraction: the floor; and the same extraction
in one process per core with nothing else running: the ceiling no crawl can pass here.

    python bench/crawl_throughput.py                      # ~540 pages, both modes
    python bench/crawl_throughput.py --pages 10000 --modes pool   # the 10k-page memory run
    python bench/crawl_throughput.py --modes pool --set NEWSCRAWL_PRECISION_AGREEMENT=False
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.ops.sampleserver import serve_sample_sites  # noqa: E402

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
    """Write sample-site trees: page i is served by ``copies`` of the ``n_sites`` sites."""
    served = 0
    for s in range(n_sites):
        site = root / f"bench{s:03d}"
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
        urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in paths)
        (site / "public" / "sitemap.xml").write_text(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
            encoding="utf-8",
        )
        (site / "public" / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        (site / "site.toml").write_text(f'slug = "bench{s:03d}"\nname = "Bench {s}"\nstart = ["/sitemap.xml"]\n')
    return served


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TreeSampler(threading.Thread):
    """Samples a process and its descendants from /proc every 0.2 s.

    - ``peak_rss``: the peak of the summed RSS (MB). Pages that forked workers share
      with their parent are counted once per process, so this overstates the tree.
    - ``peak_pss``: the peak of the summed PSS (MB, /proc/PID/smaps_rollup): each shared
      page is split between the processes sharing it, so the sum is the tree's real
      footprint.
    - ``cpu``: the last CPU seconds (user + system) seen per process, split into the
      crawl process itself and the rest (extraction workers, fork server).
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.running = pid, 0.0, 0.0, True
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        while self.running:
            rss = pss = 0
            for pid in self._tree():
                rss += self._kb(f"/proc/{pid}/status", "VmRSS:")
                pss += self._kb(f"/proc/{pid}/smaps_rollup", "Pss:")
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                except (OSError, IndexError, ValueError):
                    pass
            self.peak_rss = max(self.peak_rss, rss / 1024)
            self.peak_pss = max(self.peak_pss, pss / 1024)
            time.sleep(0.2)

    @property
    def cpu_main(self) -> float:
        return self.cpu.get(self.pid, 0.0)

    @property
    def cpu_others(self) -> float:
        return sum(seconds for pid, seconds in self.cpu.items() if pid != self.pid)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
        found, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(children.get(pid, []))
        return found

    @staticmethod
    def _kb(path: str, key: str) -> int:
        try:
            with open(path) as handle:
                for line in handle:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0


def crawl(sites_file: Path, db: str, processes: int, overrides: list[str]) -> tuple[float, TreeSampler, str]:
    command = [
        str(Path(sys.executable).parent / "newscrawl"), "crawl", "--db", db, "--allow-private", "--sites",
        str(sites_file), "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0",
        "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "--set", f"NEWSCRAWL_EXTRACT_PROCESSES={processes}",
        # sitemap -> article only: the benchmark pages link to their original sites' paths, 404s here
        "--set", "DEPTH_LIMIT=1",
    ]
    return run_sampled(command, overrides, "crawl")


def run_sampled(command: list[str], overrides: list[str], what: str) -> tuple[float, TreeSampler, str]:
    """Run a newscrawl command with ``--set`` overrides while sampling its process tree's
    memory; (seconds it reports, the sampler, its output)."""
    for override in overrides:
        command = command + ["--set", override]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.running = False
    if process.returncode != 0:
        sys.exit(f"{what} failed:\n{out}\n{err[-3000:]}")
    seconds = float(re.search(r"Crawl finished in ([\d.]+) s", out).group(1))
    return seconds, sampler, out


def _extract_all(htmls: list[bytes]) -> int:
    for html in htmls:
        trafilatura.extract(html, include_comments=False)
    return len(htmls)


def trafilatura_floor(pages) -> float:
    """Plain trafilatura, in this process on one core."""
    started = time.perf_counter()
    done = _extract_all([html for _, _, html in pages])
    return done / (time.perf_counter() - started)


def trafilatura_ceiling(pages, processes: int) -> float:
    """Plain trafilatura on every core at once, nothing else: no fetching, storing or dedupe.

    No crawl that extracts with trafilatura can beat this rate on this machine, so it
    bounds what the end-to-end figure can reach (and shows how far the cores scale).
    """
    htmls = [html for _, _, html in pages]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("forkserver")) as pool:
        list(pool.map(_extract_all, [htmls[:2]] * processes))  # start and warm the workers
        started = time.perf_counter()
        done = sum(pool.map(_extract_all, [htmls] * processes))
        return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=540, help="pages to serve (each benchmark page under several URLs)")
    parser.add_argument("--sites", type=int, default=0, help="local sites (default: one per 45 pages, at least 12)")
    parser.add_argument("--modes", default="pool,inprocess", help="comma list of: pool, inprocess")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="extra crawl setting, e.g. NEWSCRAWL_PRECISION_AGREEMENT=False (repeatable)")
    args = parser.parse_args()

    pages = load_pages()
    copies = max(1, math.ceil(args.pages / len(pages)))
    n_sites = args.sites or max(12, args.pages // 45)
    copies = min(copies, n_sites)
    floor = trafilatura_floor(pages)
    print(f"trafilatura-only floor (one core, {len(pages)} pages): {floor:.1f} pages/s, {1000 / floor:.1f} ms/page")
    cores = os.cpu_count() or 1
    ceiling = trafilatura_ceiling(pages, cores)
    print(f"trafilatura-only ceiling ({cores} processes, nothing else): {ceiling:.1f} pages/s = {ceiling / floor:.2f}x the floor")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        served = build_sites(tmp / "sites", pages, n_sites, copies)
        print(f"serving {served} pages: {len(pages)} benchmark pages x {copies} URLs on {n_sites} local sites")
        with serve_sample_sites(tmp / "sites") as sites:
            sites_file = tmp / "sites.toml"
            sites_file.write_text(sites.sites_toml(), encoding="utf-8")
            for mode in args.modes.split(","):
                processes = -1 if mode == "pool" else 0
                seconds, sampler, out = crawl(sites_file, f"sqlite:///{tmp / (mode + '.db')}", processes, args.overrides)
                rate = served / seconds
                print(f"\nmode {mode} (NEWSCRAWL_EXTRACT_PROCESSES={processes}):")
                for line in out.strip().splitlines()[:3]:
                    print(f"  {line}")
                print(f"  crawl: {seconds:.1f} s, {rate:.1f} pages/s = {rate / floor:.2f}x the one-core floor")
                print(f"  memory: peak PSS of the process tree {sampler.peak_pss:.0f} MB "
                      f"(summed RSS, shared pages counted per process: {sampler.peak_rss:.0f} MB)")
                print(f"  CPU per served page: crawl process {sampler.cpu_main / served * 1000:.1f} ms, "
                      f"workers {sampler.cpu_others / served * 1000:.1f} ms")


if __name__ == "__main__":
    main()
