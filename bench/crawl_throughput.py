"""End-to-end crawl throughput, CPU and peak memory: newscrawl against the spider a user
would write (bench/naive_spider.py) and against trafilatura alone, on the same pages in one run.

The throughput set: the public benchmark's real news pages
(../shared/benchmarks/article-extraction, 181 pages) served x3 (543 URLs) by 20 local
sites, each on its own loopback address (127.0.0.2, 127.0.0.3, ...) as real sites are
on their own hosts, each with a sitemap. Politeness off: no delay and no autothrottle,
but the per-site concurrency limit stays as configured (newscrawl's settings; the naive
spider is given the same CONCURRENT_REQUESTS and CONCURRENT_REQUESTS_PER_DOMAIN).

Printed for each crawler: articles stored per second (stored rows / wall seconds of the
whole command, start-up included; also over the crawl's own reported time for
newscrawl), CPU ms per stored article (user + system of the whole process tree),
cores busy (tree CPU s / wall s) and peak PSS of the tree. The floor: trafilatura.extract
over the same 181 pages in this process, on one core (pages/s and CPU ms per page).

    python bench/crawl_throughput.py                          # the throughput set: naive + newscrawl
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
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.ops.sampleserver import serve_sample_sites  # noqa: E402

BENCH_DIR = REPO.parent / "shared" / "benchmarks" / "article-extraction"
NAIVE_SPIDER = REPO / "bench" / "naive_spider.py"


def load_pages() -> list[tuple[str, str, bytes]]:
    truth = json.loads((BENCH_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        html = gzip.decompress((BENCH_DIR / "html" / f"{page_id}.html.gz").read_bytes())
        slug = re.sub(r"[^a-z0-9]+", "-", entry["url"].rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")[:60] or "story"
        pages.append((page_id, slug, html))
    return pages


def build_sites(root: Path, pages, n_sites: int, copies: int) -> tuple[int, list[str]]:
    """Write ``n_sites`` sample-site trees, site s on 127.0.0.(s+2): copy c of page i is
    served by site (i + c) mod n_sites under its own path, so ``copies`` may exceed the
    sites (the 10k-page run). Returns (URLs served, sitemap paths per site)."""
    paths: list[list[str]] = [[] for _ in range(n_sites)]
    for i, (page_id, slug, html) in enumerate(pages):
        for c in range(copies):
            s = (i + c) % n_sites
            path = f"/2019/11/{page_id[:10]}-{slug}-{c}/"
            target = root / f"bench{s:03d}" / "public" / path.strip("/")
            target.mkdir(parents=True)
            (target / "index.html").write_bytes(html)
            paths[s].append(path)
    for s in range(n_sites):
        site = root / f"bench{s:03d}"
        (site / "public").mkdir(parents=True, exist_ok=True)
        urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in paths[s])
        (site / "public" / "sitemap.xml").write_text(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
            encoding="utf-8",
        )
        (site / "public" / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
        (site / "site.toml").write_text(f'slug = "bench{s:03d}"\nname = "Bench {s}"\nstart = ["/sitemap.xml"]\n'
                                        f'host = "127.0.0.{s + 2}"\n')
    return sum(map(len, paths)), ["/sitemap.xml"] * n_sites


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class TreeSampler(threading.Thread):
    """Samples a process and its descendants from /proc every 0.1 s.

    - ``peak_rss``: the peak of the summed RSS (MB). Pages that forked workers share
      with their parent are counted once per process, so this overstates the tree.
    - ``peak_pss``: the peak of the summed PSS (MB, /proc/PID/smaps_rollup): each shared
      page is split between the processes sharing it, so the sum is the tree's real
      footprint.
    - ``cpu``: the last CPU seconds (user + system) seen per process, split into the
      crawl process itself and the rest (extraction workers, fork server).
    - ``machine_busy``: CPU seconds the whole machine spent busy meanwhile (/proc/stat),
      ours and other processes' (this sampler, other benchmarks on a shared machine):
      with it, a run tells a pipeline that leaves cores idle from one that is short of CPU.
    """

    interval = 0.1  # a process's last 0.1 s of CPU before it exits is not seen

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.running = pid, 0.0, 0.0, True
        self.wall = 0.0  # seconds from start to exit, set by whoever ran the command
        self.cpu: dict[int, float] = {}
        self.machine_busy = 0.0
        self.machine_seconds = 0.0  # wall seconds between the first and last /proc/stat reads

    def run(self) -> None:
        busy_before, started = _machine_busy_seconds(), time.perf_counter()
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
            time.sleep(self.interval)
        self.machine_busy = _machine_busy_seconds() - busy_before
        self.machine_seconds = time.perf_counter() - started

    @property
    def cpu_main(self) -> float:
        return self.cpu.get(self.pid, 0.0)

    @property
    def cpu_others(self) -> float:
        return sum(seconds for pid, seconds in self.cpu.items() if pid != self.pid)

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def utilisation(self, cores: int) -> str:
        """Cores busy with our processes and with others', and idle, over the run."""
        if not self.machine_seconds:
            return ""
        ours = self.cpu_total / self.machine_seconds
        machine = self.machine_busy / self.machine_seconds
        return (f"ours {ours:.2f}, other processes {max(machine - ours, 0):.2f}, idle {max(cores - machine, 0):.2f} "
                f"of {cores}")

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


POLITENESS_OFF = ["AUTOTHROTTLE_ENABLED=False", "DOWNLOAD_DELAY=0"]


@dataclass
class Run:
    """One crawler command, measured: wall seconds from start to exit, its process tree."""
    name: str
    wall: float
    sampler: TreeSampler
    out: str
    stored: int = 0
    crawl_seconds: float | None = None  # what the crawl itself reports (without start-up)

    @property
    def rate(self) -> float:
        return self.stored / self.wall

    @property
    def cpu_ms_per_article(self) -> float:
        return self.sampler.cpu_total / max(self.stored, 1) * 1000

    @property
    def cores_busy(self) -> float:
        return self.sampler.cpu_total / self.wall


def crawl(sites_file: Path, db: str, processes: int, overrides: list[str]) -> tuple[float, TreeSampler, str]:
    command = [
        str(Path(sys.executable).parent / "newscrawl"), "crawl", "--db", db, "--allow-private", "--sites",
        str(sites_file), "--set", f"NEWSCRAWL_EXTRACT_PROCESSES={processes}",
        # sitemap -> article only: the benchmark pages link to their original sites' paths, 404s here
        "--set", "DEPTH_LIMIT=1",
    ]
    for setting in POLITENESS_OFF:
        command += ["--set", setting]
    return run_sampled(command, overrides, "crawl")


def naive_crawl(sitemaps: list[str], db: Path, cwd: Path) -> Run:
    """bench/naive_spider.py with newscrawl's concurrency settings and politeness off."""
    from crawler import settings as ours

    command = [sys.executable, "-m", "scrapy", "runspider", str(NAIVE_SPIDER), "-a", "sitemaps=" + ",".join(sitemaps),
               "-a", f"db={db}", "-s", f"CONCURRENT_REQUESTS={ours.CONCURRENT_REQUESTS}",
               "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={ours.CONCURRENT_REQUESTS_PER_DOMAIN}", "-s", "LOG_LEVEL=INFO"]
    for setting in POLITENESS_OFF:
        command += ["-s", setting]
    sampler, out, err = sample_process(command, "naive spider", cwd=cwd)
    return Run("naive spider", sampler.wall, sampler, err, stored=count_rows(db))


def sample_process(command: list[str], what: str, **popen) -> tuple[TreeSampler, str, str]:
    """Run ``command`` to its end while sampling its process tree: (the sampler, whose ``wall``
    is the seconds from start to exit, its stdout, its stderr). Exits with its output if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    sampler = TreeSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.wall = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{what} failed:\n{out}\n{err[-3000:]}")
    return sampler, out, err


def run_sampled(command: list[str], overrides: list[str], what: str) -> tuple[float, TreeSampler, str]:
    """Run a newscrawl command with ``--set`` overrides while sampling its process tree;
    (seconds it reports, the sampler, its output). The sampler's ``wall`` is the seconds
    from start to exit."""
    for override in overrides:
        command = command + ["--set", override]
    sampler, out, _ = sample_process(command, what)
    seconds = float(re.search(r"(?:Crawl|Ingest) \w+ in ([\d.]+) s", out).group(1))
    return seconds, sampler, out


def count_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


def _extract_all(htmls: list[bytes]) -> int:
    for html in htmls:
        trafilatura.extract(html, include_comments=False)
    return len(htmls)


def trafilatura_floor(pages) -> float:
    """Plain trafilatura, in this process on one core: pages per wall second."""
    return trafilatura_floor_cpu(pages)[0]


def trafilatura_floor_cpu(pages) -> tuple[float, float]:
    """Plain trafilatura.extract over the pages in this process, on one core:
    (pages per wall second, CPU ms per page)."""
    htmls = [html for _, _, html in pages]
    _extract_all(htmls[:3])  # first-call set-up (lazy imports, caches) is not per page
    started, cpu = time.perf_counter(), time.process_time()
    done = _extract_all(htmls)
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1000


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


def summary_lines(out: str) -> list[str]:
    """The run's first summary lines, and how well its extraction pool was fed."""
    lines = out.strip().splitlines()
    return lines[:3] + [line for line in lines[3:] if line.startswith("Extraction pool:")]


def print_run(run: Run, floor_rate: float, floor_cpu_ms: float, served: int) -> None:
    print(f"\n{run.name}:")
    for line in summary_lines(run.out) if run.crawl_seconds is not None else []:
        print(f"  {line}")
    crawl_rate = f" ({run.stored / run.crawl_seconds:.1f}/s over the crawl's own {run.crawl_seconds:.1f} s)" \
        if run.crawl_seconds else ""
    print(f"  stored {run.stored} of {served} pages in {run.wall:.1f} s: {run.rate:.1f} articles/s{crawl_rate} "
          f"= {run.rate / floor_rate:.2f}x the one-core trafilatura floor")
    s = run.sampler
    print(f"  CPU: {run.cpu_ms_per_article:.1f} ms per stored article (process tree; main process "
          f"{s.cpu_main / max(run.stored, 1) * 1000:.1f}, others {s.cpu_others / max(run.stored, 1) * 1000:.1f}) "
          f"= {run.cpu_ms_per_article / floor_cpu_ms:.2f}x trafilatura extract per page")
    cores = os.cpu_count() or 1
    print(f"  cores busy: {run.cores_busy:.2f} ({s.cpu_total:.1f} CPU s / {run.wall:.1f} wall s); machine: "
          f"{s.utilisation(cores)}")
    if run.crawl_seconds is not None:
        # Short of CPU, not serialised, when this is near the measured rate: the rate our CPU per
        # article allows with every core ours and busy.
        print(f"  CPU-bound rate ({cores} cores, all ours, at this CPU per article): "
              f"{cores * 1000 / run.cpu_ms_per_article:.1f} articles/s; measured {run.rate:.1f}")
    print(f"  memory: peak PSS of the process tree {s.peak_pss:.0f} MB (summed RSS: {s.peak_rss:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=543, help="URLs to serve (each benchmark page under several)")
    parser.add_argument("--sites", type=int, default=20, help="local sites, each on its own 127.0.0.x address")
    parser.add_argument("--modes", default="naive,pool",
                        help="comma list of: naive (bench/naive_spider.py), pool (newscrawl), inprocess "
                        "(newscrawl with NEWSCRAWL_EXTRACT_PROCESSES=0)")
    parser.add_argument("--ceiling", action="store_true", help="also time trafilatura on every core at once")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="extra newscrawl setting, e.g. NEWSCRAWL_PRECISION_AGREEMENT=False (repeatable)")
    args = parser.parse_args()
    if not 1 <= args.sites <= 253:
        parser.error("--sites must be between 1 and 253 (one 127.0.0.x address each)")

    pages = load_pages()
    copies = max(1, math.ceil(args.pages / len(pages)))
    floor, floor_cpu_ms = trafilatura_floor_cpu(pages)
    print(f"trafilatura-only floor (one core, {len(pages)} pages): {floor:.1f} pages/s, "
          f"{1000 / floor:.1f} ms/page wall, {floor_cpu_ms:.1f} CPU ms/page")
    if args.ceiling:
        cores = os.cpu_count() or 1
        ceiling = trafilatura_ceiling(pages, cores)
        print(f"trafilatura-only ceiling ({cores} processes, nothing else): {ceiling:.1f} pages/s "
              f"= {ceiling / floor:.2f}x the floor")
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        served, _ = build_sites(tmp / "sites", pages, args.sites, copies)
        print(f"serving {served} pages: {len(pages)} benchmark pages x {copies} URLs on {args.sites} local sites "
              f"(one 127.0.0.x address each); politeness off, per-site concurrency as configured")
        with serve_sample_sites(tmp / "sites") as sites:
            sites_file = tmp / "sites.toml"
            sites_file.write_text(sites.sites_toml(), encoding="utf-8")
            for mode in args.modes.split(","):
                if mode == "naive":
                    run = naive_crawl([url for site in sites for url in site.start_urls], tmp / "naive.db", tmp)
                else:
                    processes = -1 if mode == "pool" else 0
                    db = tmp / (mode + ".db")
                    seconds, sampler, out = crawl(sites_file, f"sqlite:///{db}", processes, args.overrides)
                    run = Run(f"newscrawl (NEWSCRAWL_EXTRACT_PROCESSES={processes})", sampler.wall, sampler, out,
                              stored=count_rows(db), crawl_seconds=seconds)
                runs[mode] = run
                print_run(run, floor, floor_cpu_ms, served)
    ours = runs.get("pool") or runs.get("inprocess")
    if ours is not None:
        print("\ntargets:")
        if "naive" in runs:
            print(f"  articles/s vs the naive spider: {ours.rate / runs['naive'].rate:.2f}x (target >= 1)")
        print(f"  articles/s vs the one-core trafilatura floor: {ours.rate / floor:.2f}x (target >= 1.5)")
        print(f"  CPU per stored article vs trafilatura extract per page: "
              f"{ours.cpu_ms_per_article / floor_cpu_ms:.2f}x (target <= 1.3)")
        print(f"  peak PSS: {ours.sampler.peak_pss:.0f} MB (target <= 500 MB on the 10k-page crawl)")


if __name__ == "__main__":
    main()
