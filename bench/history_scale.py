"""A year of articles, the same cron run: start-up, wall time and memory against history.

Builds databases of N stored articles (default 100k and 1M) through bulk SQL,
on SQLite and PostgreSQL, then times a cron-style crawl of one bundled sample
site (crawler/ops/sampleserver.py) against each, and against an empty (migrated)
database as the baseline measured in the same run:

- time to the first request the site receives, from the command's start;
- total wall time of ``newscrawl --quiet crawl``;
- peak RSS (and PSS) summed over the crawl's process tree, polled every 20 ms.

On the largest database it also times ``newscrawl status``, ``newscrawl report``
and ``newscrawl export --since`` (one day).

What the databases hold (generated, not crawled):
- ``N`` articles fetched over the year before now on 200 sites (Zipf-sized),
  ids in fetch order; 90% with a publication time a few hours before the fetch.
- Distinct texts of ~4 KB: a sentence of their own and seven paragraphs drawn
  from a pool of 40,000 (100 words each, Zipf over wordfreq's English list), with
  their content hashes. 12% are near-copies of an article of the same or the last
  three days on another site (one paragraph dropped or replaced), and 1% wire
  copies of an article ~90 days older; copies are in their original's
  near-duplicate group, the earliest one canonical. 30% of the originals report
  the story of an article of the last two days.
- Signatures in the stored format: MinHash values generated per original and
  derived for copies (5-20% of the values replaced: Jaccard 0.8-0.95), story
  terms sharing 60% of the story founder's; band keys in ``article_bands``
  computed from them as the crawl does. (Signing 1M texts would take longer than
  the rest of the build and changes nothing the run measures.)
- ``raw_html``: incompressible bytes of ``--raw-kb`` KB (40, a real page
  compressed) and ``--raw-kb-large`` KB for databases over 200k articles (disk:
  1M x 44 KB would be 44 GB a backend). Nothing a run does reads raw_html, and
  what would (SQLite stepping over it to reach a later column) shows at 100k.
- A year of hourly crawl_runs rows, site profiles with learned boilerplate, feed
  validators.

    python bench/history_scale.py [--sizes 100000,1000000] [--backends sqlite,postgresql]
        [--site sofiaglobe] [--raw-kb 40] [--raw-kb-large 2] [--keep]
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.store.history import stored_band_keys  # noqa: E402
from crawler.ops.sampleserver import serve_sample_sites  # noqa: E402
from dedupe import DedupeSettings, minhash_to_bytes  # noqa: E402
from models.db import upgrade  # noqa: E402

NEWSCRAWL = str(Path(sys.executable).with_name("newscrawl"))
PG_ADMIN = os.environ.get("NEWSCRAWL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SITES = 200
BATCH = 5000
COPY_SHARE, LATE_COPY_SHARE, STORY_SHARE = 0.12, 0.01, 0.30

ARTICLE_COLUMNS = ("id", "url", "canonical_url", "site", "site_name", "title", "authors", "published_at",
                   "language", "text", "image", "section", "tags", "content_hash", "raw_html", "raw_encoding",
                   "extractor_version", "block_hashes", "removed_blocks", "boilerplate_version", "fetched_at",
                   "dup_group_id", "dup_similarity", "is_canonical", "story_id", "story_similarity")
SIGNATURE_COLUMNS = ("article_id", "scheme", "num_perm", "seed", "shingle_size", "minhash", "story_terms",
                     "story_weights", "window_time", "fetched_at", "content_hash", "dup_group_id", "story_id")


# --- generation ------------------------------------------------------------------

class Generator:
    """Articles as rows, deterministic per id (an old original is regenerated, not kept)."""

    def __init__(self, n: int, end: dt.datetime, raw_kb: int, seed: int = 17) -> None:
        import wordfreq

        self.n, self.raw_bytes = n, raw_kb * 1024
        self.settings = DedupeSettings()
        # Single words only, so that a text's tokens are its words (the content hash below).
        self.word_list = [w for w in wordfreq.top_n_list("en", 31000) if w.isalpha()][:30000]
        ranks = np.arange(1, len(self.word_list) + 1, dtype=np.float64)
        self.word_cdf = np.cumsum(1 / ranks) / (1 / ranks).sum()  # Zipf's law over the word list
        rng = np.random.default_rng(seed)
        self.start = end - dt.timedelta(days=365)
        span = 365 * 86400
        self.fetched = np.sort(rng.uniform(0, span, n)) + self.start.timestamp()
        delay = rng.exponential(6 * 3600, n)
        self.dated = rng.random(n) < 0.9
        self.published = self.fetched - delay
        site_sizes = 1 / np.arange(1, SITES + 1) ** 0.8
        self.site = rng.choice(SITES, n, p=site_sizes / site_sizes.sum())
        per_day = n / 365
        # Copies: of an article up to 3 days back, or ~90 days back (wire copies republished late).
        self.kind = rng.random(n)
        back = np.where(self.kind < LATE_COPY_SHARE, rng.normal(90, 3, n) * per_day, rng.uniform(1, 3 * per_day + 2, n))
        self.source = np.clip(np.arange(n) - back.astype(np.int64), -1, None)
        is_copy = (self.kind < COPY_SHARE + LATE_COPY_SHARE) & (self.source >= 0)
        self.source[~is_copy] = -1
        story_back = rng.uniform(1, 2 * per_day + 2, n).astype(np.int64)
        joins = (~is_copy) & (rng.random(n) < STORY_SHARE) & (np.arange(n) - story_back >= 0)
        self.story_source = np.where(joins, np.arange(n) - story_back, -1)
        # Group and story founders (0-based), resolved in id order.
        self.group = np.arange(n)
        self.story = np.arange(n)
        for i in np.flatnonzero(is_copy | joins):
            if self.source[i] >= 0:
                self.group[i] = self.group[self.source[i]]
                self.story[i] = self.story[self.source[i]]
            else:
                self.story[i] = self.story[self.story_source[i]]
        self.pool = np.random.default_rng(seed + 1).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
        # Texts are drawn from a pool of paragraphs (generating ~1M x 4 KB of words one by one
        # takes longer than the rest of the build); each text leads with its own sentence.
        self._make_pool(np.random.default_rng(seed + 2), 40_000)

    def time(self, i: int) -> float:
        return self.published[i] if self.dated[i] else self.fetched[i]

    def paragraphs(self, i: int) -> list[int]:
        """Article ``i``'s paragraphs (0-based), as indices into the paragraph pool: seven for
        an original; a copy drops one of its source's or replaces it with another."""
        rng = np.random.default_rng(i)
        if self.source[i] >= 0:
            paragraphs = self.paragraphs(int(self.source[i]))
            drop = int(rng.integers(len(paragraphs)))
            if rng.random() < 0.5 and len(paragraphs) > 4:
                return paragraphs[:drop] + paragraphs[drop + 1:]
            return paragraphs[:drop] + [int(rng.integers(len(self.pool_text)))] + paragraphs[drop + 1:]
        return rng.integers(len(self.pool_text), size=7).tolist()

    def _make_pool(self, rng, count: int) -> None:
        """Paragraphs of 100 words (Zipf over wordfreq's list), as text and as normalised tokens."""
        picks = np.minimum(np.searchsorted(self.word_cdf, rng.random(100 * count)), len(self.word_list) - 1)
        words = [self.word_list[k] for k in picks.tolist()]
        self.pool_text, self.pool_norm = [], []
        for p in range(0, len(words), 100):
            ws = words[p:p + 100]
            self.pool_text.append(" ".join(" ".join(ws[j:j + 20]).capitalize() + "." for j in range(0, 100, 20)))
            self.pool_norm.append(" ".join(ws))

    def minhash(self, i: int) -> np.ndarray:
        rng = np.random.default_rng(i + 10**9)
        if self.source[i] >= 0:
            values = self.minhash(int(self.source[i])).copy()
            changed = rng.random(len(values)) < rng.uniform(0.05, 0.2)
            values[changed] = rng.integers(0, 2**32, int(changed.sum()), dtype=np.uint32)
            return values
        return rng.integers(0, 2**32, self.settings.num_perm, dtype=np.uint32)

    def terms(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(i + 2 * 10**9)
        own = rng.integers(0, 2**32, 24, dtype=np.uint32)
        if self.story[i] != i:
            founder, _ = self.terms(int(self.story[i]))
            own[:14] = founder[:14]
        terms = np.unique(own)
        return terms, rng.uniform(1, 8, len(terms)).astype(np.float32)

    def rows(self, lo: int, hi: int, iso_times: bool):
        """(article rows, signature rows, band keys, band article ids) for ids lo+1..hi."""
        s = self.settings
        articles, signatures, keys, owners = [], [], [], []
        for i in range(lo, hi):
            article_id = i + 1
            site = f"site{self.site[i]:03d}.example"
            url = f"https://{site}/{dt.datetime.fromtimestamp(self.fetched[i], dt.timezone.utc):%Y/%m/%d}/story-{article_id}"
            paragraphs = self.paragraphs(i)
            origin = int(self.group[i]) + 1  # a copy keeps its original's lead sentence
            lead = f"Dispatch {origin} from the desk of site {self.site[int(self.group[i])]}."
            text = "\n".join([lead] + [self.pool_text[p] for p in paragraphs])
            normalised = " ".join([lead[:-1].lower()] + [self.pool_norm[p] for p in paragraphs])
            digest = hashlib.sha256(normalised.encode()).hexdigest()  # = content_hash(text)
            published = dt.datetime.fromtimestamp(self.published[i], dt.timezone.utc) if self.dated[i] else None
            fetched = dt.datetime.fromtimestamp(self.fetched[i], dt.timezone.utc)
            group, story = int(self.group[i]) + 1, int(self.story[i]) + 1
            offset = (article_id * 7919) % (len(self.pool) - self.raw_bytes)
            raw = self.pool[offset:offset + self.raw_bytes]
            tval = (lambda v: v and v.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")) if iso_times else (lambda v: v)
            articles.append((article_id, url, url, site, f"Site {self.site[i]}", text[:80], json.dumps(["A. Writer"]),
                             tval(published), "en", text, None, "news", "[]", digest, raw, "utf-8",
                             "newscrawl-2+trafilatura-2.3.1", "[]", "[]", 1, tval(fetched),
                             group, 0.9 if group != article_id else None, group == article_id, story,
                             0.3 if story != article_id and group == article_id else None))
            minhash = self.minhash(i)
            terms, weights = self.terms(i)
            signatures.append((article_id, s.scheme, s.num_perm, s.seed, s.shingle_size,
                               minhash_to_bytes(minhash, s.seed), terms.astype("<u4").tobytes(),
                               weights.astype("<f4").tobytes(), tval(published or fetched), tval(fetched), digest,
                               group, story))
            keys.append(stored_band_keys(minhash, s))
            owners.append(np.full(len(keys[-1]), article_id, dtype=np.int32))
        return articles, signatures, np.concatenate(keys), np.concatenate(owners)


def other_rows(gen: Generator, iso_times: bool):
    """A year of hourly crawl_runs, site profiles and blocks, feed validators."""
    tval = (lambda v: v.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")) if iso_times else (lambda v: v)
    rng = np.random.default_rng(5)
    runs = []
    for hour in range(365 * 24):
        started = gen.start + dt.timedelta(hours=hour, minutes=7)
        sites = {f"site{k:03d}.example": {"article_pages": int(rng.integers(5, 30)), "stored": int(rng.integers(5, 25))}
                 for k in rng.choice(SITES, 20, replace=False)}
        runs.append((hour + 1, tval(started), tval(started + dt.timedelta(minutes=3)), "finished", "finished",
                     json.dumps([f"https://{s}/" for s in sites]), 300, 25, 1, 2, json.dumps({"known": 200}),
                     json.dumps({}), json.dumps(sites), "cron-host", 4242))
    profiles = [(f"site{k:03d}.example", 5000, 1) for k in range(SITES)]
    blocks = [(k * 20 + b + 1, f"site{k:03d}.example", f"{k:04x}{b:012x}", f"Follow site {k} on social media {b}",
               400, b < 3, tval(gen.start), tval(gen.start) if b < 3 else None)
              for k in range(SITES) for b in range(20)]
    feeds = [(f"https://site{k:03d}.example/{name}", f'"{k}-{name}"', "Tue, 01 Dec 2026 10:00:00 GMT",
              tval(gen.start + dt.timedelta(days=364))) for k in range(SITES) for name in ("rss.xml", "sitemap.xml")]
    return runs, profiles, blocks, feeds


BLOCK_COLUMNS = ("id", "site", "block_hash", "sample", "page_count", "is_boilerplate", "first_seen_at",
                 "boilerplate_since")
RUN_COLUMNS = ("id", "started_at", "finished_at", "status", "finish_reason", "start_urls", "pages_fetched",
               "articles_new", "articles_updated", "articles_unchanged", "skips", "errors", "sites", "host", "pid")


# --- writing -------------------------------------------------------------------------

class SqliteWriter:
    def __init__(self, path: Path, gen: Generator) -> None:
        import sqlite3

        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.path, self.url, self.gen = path, f"sqlite:///{path}", gen
        upgrade(self.url)
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-500000")  # 500 MB of page cache while building
        self.iso_times = True

    @staticmethod
    def _insert(table, cols) -> str:
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    def write(self, articles, signatures) -> None:
        self.conn.executemany(self._insert("articles", ARTICLE_COLUMNS), articles)
        self.conn.executemany(self._insert("article_signatures", SIGNATURE_COLUMNS), signatures)
        self.conn.commit()

    def finish(self, keys: np.ndarray, ids: np.ndarray, order: np.ndarray) -> int:
        conn = self.conn
        for lo in range(0, len(order), 500_000):  # the table is its primary key: insert in its order
            part = order[lo:lo + 500_000]
            conn.executemany("INSERT OR IGNORE INTO article_bands (band_key, article_id) VALUES (?, ?)",
                             zip(keys[part].tolist(), ids[part].tolist()))
        runs, profiles, blocks, feeds = other_rows(self.gen, iso_times=True)
        conn.executemany(self._insert("crawl_runs", RUN_COLUMNS), runs)
        conn.executemany(self._insert("site_profiles", ("site", "pages_seen", "boilerplate_version")), profiles)
        conn.executemany(self._insert("site_blocks", BLOCK_COLUMNS), blocks)
        conn.executemany(self._insert("fetch_state", ("url", "etag", "last_modified", "fetched_at")), feeds)
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        conn.close()
        os.sync()  # the build's writes on disk before the clock starts
        return self.path.stat().st_size

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class PostgresWriter:
    def __init__(self, name: str, gen: Generator) -> None:
        import psycopg

        self.name, self.gen = name, gen
        self.url = pg_database(name)
        upgrade(self.url)
        self.conn = psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"))
        self.iso_times = False

    def write(self, articles, signatures) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY articles ({', '.join(ARTICLE_COLUMNS)}) FROM STDIN") as copy:
                for row in articles:
                    copy.write_row(row)
            with cur.copy(f"COPY article_signatures ({', '.join(SIGNATURE_COLUMNS)}) FROM STDIN") as copy:
                for row in signatures:
                    copy.write_row(row)
        self.conn.commit()

    def finish(self, keys: np.ndarray, ids: np.ndarray, order: np.ndarray) -> int:
        import psycopg

        conn = self.conn
        with conn.cursor() as cur:
            with cur.copy("COPY article_bands (band_key, article_id) FROM STDIN") as copy:
                for lo in range(0, len(order), 1_000_000):
                    part = order[lo:lo + 1_000_000]
                    copy.write("".join(f"{k}\t{i}\n" for k, i in zip(keys[part].tolist(), ids[part].tolist())))
            runs, profiles, blocks, feeds = other_rows(self.gen, iso_times=False)
            for table, cols, rows in (("crawl_runs", RUN_COLUMNS, runs),
                                      ("site_profiles", ("site", "pages_seen", "boilerplate_version"), profiles),
                                      ("site_blocks", BLOCK_COLUMNS, blocks),
                                      ("fetch_state", ("url", "etag", "last_modified", "fetched_at"), feeds)):
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            for table in ("articles", "crawl_runs", "site_blocks"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            with psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as db:
                db.execute("VACUUM ANALYZE")  # what autovacuum does to a database in use for a year
            admin.execute("CHECKPOINT")  # the build's writes on disk before the clock starts
            return admin.execute(f"SELECT pg_database_size('{self.name}')").fetchone()[0]

    def drop(self) -> None:
        drop_pg_database(self.name)


class Kept:
    """A database an earlier ``--keep`` run built (``--reuse``)."""

    def __init__(self, path: Path, name: str, backend: str) -> None:
        self.backend, self.path, self.name = backend, path, name
        if backend == "sqlite":
            self.url, self.size = f"sqlite:///{path}", path.stat().st_size
        else:
            import psycopg

            self.url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                self.size = admin.execute(f"SELECT pg_database_size('{name}')").fetchone()[0]

    def drop(self) -> None:
        pass  # kept: built by another run


def build(writers: list, gen: Generator) -> None:
    """Generate the rows once, in batches, and write them to every backend."""
    all_keys, all_ids = [], []
    for lo in range(0, gen.n, BATCH):
        hi = min(lo + BATCH, gen.n)
        by_format = {}
        for writer in writers:
            if writer.iso_times not in by_format:
                by_format[writer.iso_times] = gen.rows(lo, hi, iso_times=writer.iso_times)
            articles, signatures, keys, ids = by_format[writer.iso_times]
            writer.write(articles, signatures)
        all_keys.append(keys)
        all_ids.append(ids)
        _progress(hi, gen.n)
    keys, ids = np.concatenate(all_keys), np.concatenate(all_ids)
    order = np.lexsort((ids, keys))
    for writer in writers:
        writer.size = writer.finish(keys, ids, order)
    print(file=sys.stderr)


def _progress(done: int, total: int) -> None:
    print(f"\r  building: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)


def pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


# --- measuring -----------------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return pids


def _memory(pids: list[int]) -> tuple[int, int]:
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss * 1024, pss * 1024


def measure(argv: list[str], first_request=None) -> dict:
    """Run ``argv``; wall time, peak RSS/PSS of its process tree, and (``first_request()``
    returning a monotonic time or None) the time to the first request."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_rss = peak_pss = 0
    first = None
    while proc.poll() is None:
        rss, pss = _memory(_tree(proc.pid))
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        if first is None and first_request is not None:
            first = first_request()
        time.sleep(0.02)
    wall = time.monotonic() - started
    out, err = proc.communicate()
    if first is None and first_request is not None:
        first = first_request()
    return {"wall": wall, "rss": peak_rss, "pss": peak_pss, "first": None if first is None else first - started,
            "code": proc.returncode, "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace")}


def crawl(db_url: str, site_slug: str) -> dict:
    with serve_sample_sites() as sites:
        site = sites[site_slug]
        seen: list[float] = []
        lock = threading.Lock()

        def first_request():
            with lock:
                if not seen and sites.request_log:
                    seen.append(time.monotonic())
                return seen[0] if seen else None

        result = measure([NEWSCRAWL, "crawl", "--db", db_url, "--allow-private",
                          "--set", "NEWSCRAWL_PROGRESS=False", *site.start_urls], first_request)
        result["requests"] = len(sites.request_log)
    return result


def known_urls(db_url: str, n: int) -> None:
    """Known-URL state: the per-listing check (KnownUrls) against loading every stored URL
    into a set (what the spider did before), in child processes, time and peak RSS."""
    peak = '[int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0]'
    code_check = (
        "import sys,time; from sqlalchemy import create_engine, text; from crawler.store.incremental import KnownUrls\n"
        "e=create_engine(sys.argv[1]); step=max({n} // 1000, 1)\n"
        "with e.connect() as c: urls=[u for (u,) in c.execute(text(f'SELECT url FROM articles WHERE id % {step} = 0'))]\n"
        "e.dispose(); urls=urls[:1000] + [f'https://new.example/{k}' for k in range(1000)]\n"
        "t=time.perf_counter(); known=KnownUrls(sys.argv[1]); known.prefetch(urls); hits=sum(u in known for u in urls)\n"
        "print(f'{time.perf_counter()-t:.3f} {PEAK} {hits}')"
    ).replace("{n}", str(n)).replace("{PEAK}", "{" + peak + "}")
    code_set = (
        "import sys,time; from crawler.store.incremental import load_state\n"
        "t=time.perf_counter(); known,_=load_state(sys.argv[1], True)\n"
        "print(f'{time.perf_counter()-t:.3f} {PEAK} {len(known)}')"
    ).replace("{PEAK}", "{" + peak + "}")
    for label, code in (("check 2,000 links (KnownUrls.prefetch)", code_check), ("load every stored URL (a set)", code_set)):
        out = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, cwd=REPO)
        seconds, rss, count = (out.stdout.split() + ["?", "?", "?"])[:3]
        print(f"  known URLs: {label:<40} {seconds:>7} s  process peak RSS {rss:>5} MB  ({count} known)", flush=True)
        if out.returncode:
            print("    " + (out.stderr.strip().splitlines() or ["?"])[-1])


def show(label: str, r: dict, base: dict | None = None) -> None:
    ratio = f"  ({r['wall'] / base['wall']:.2f}x empty)" if base else ""
    first = f"{r['first']:.2f} s" if r.get("first") is not None else "-"
    print(f"  {label:<34} first request {first:>8}  wall {r['wall']:6.2f} s{ratio}  peak RSS "
          f"{r['rss'] / 1e6:6.0f} MB  PSS {r['pss'] / 1e6:6.0f} MB  exit {r['code']}", flush=True)
    if r["code"] not in (0, 3):
        print("    " + (r["stderr"].strip().splitlines() or ["?"])[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--site", default="sofiaglobe", help="the sample site crawled (seeds/sites/<slug>)")
    parser.add_argument("--raw-kb", type=int, default=40)
    parser.add_argument("--raw-kb-large", type=int, default=2, help="raw_html KB above 200k articles (disk)")
    parser.add_argument("--workdir", default=str(REPO / "bench" / "out" / "history"))
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--known-only", action="store_true", help="with --reuse: only the known-URL figures")
    parser.add_argument("--reuse", action="store_true",
                        help="measure databases kept by an earlier --keep run instead of building them")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    backends = args.backends.split(",")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    print(f"history_scale: sizes {sizes}, backends {backends}, crawl of sample site {args.site!r}")

    baselines = {}
    for backend in backends if not args.known_only else ():
        if backend == "sqlite":
            empty_path = work / "empty.db"
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{empty_path}{suffix}").unlink(missing_ok=True)
            empty_url = f"sqlite:///{empty_path}"
        else:
            empty_url = pg_database("nc_history_empty")
        upgrade(empty_url)
        baselines[backend] = crawl(empty_url, args.site)
        show(f"{backend}, empty database", baselines[backend])
        if backend == "postgresql" and not args.keep:
            drop_pg_database("nc_history_empty")

    for n in sizes:
        raw_kb = args.raw_kb if n <= 200_000 else args.raw_kb_large
        gen = None if args.reuse else Generator(n, end, raw_kb)
        started = time.monotonic()
        if args.reuse:
            writers = [Kept(work / f"history-{n}.db", f"nc_history_{n}", backend) for backend in backends]
        else:
            writers = [SqliteWriter(work / f"history-{n}.db", gen) if backend == "sqlite"
                       else PostgresWriter(f"nc_history_{n}", gen) for backend in backends]
            build(writers, gen)
        print(f"\n{n:,} articles (raw_html {raw_kb} KB) built in {time.monotonic() - started:.0f} s: "
              + ", ".join(f"{b} {w.size / 1e9:.1f} GB" for b, w in zip(backends, writers)), flush=True)
        del gen
        for backend, writer in zip(backends, writers):
            if args.known_only:
                known_urls(writer.url, n)
                continue
            result = crawl(writer.url, args.site)
            show(f"{backend}, {n:,} articles", result, baselines[backend])
            for line in result["stdout"].splitlines():
                if line.startswith(("Dedupe index", "Crawl ")):
                    print(f"    {line}")
            if n == max(sizes):
                day = (end - dt.timedelta(days=1)).isoformat()
                show("  status", measure([NEWSCRAWL, "status", "--db", writer.url]))
                show("  report", measure([NEWSCRAWL, "report", "--db", writer.url, "-o", str(work / "report.html")]))
                export = measure([NEWSCRAWL, "export", "--db", writer.url, "--since", day,
                                  "-o", str(work / "day.jsonl")])
                show("  export --since one day", export)
                print(f"    {export['stderr'].strip().splitlines()[-1] if export['stderr'].strip() else ''}")
                known_urls(writer.url, n)
            if not args.keep:
                writer.drop()
    if not args.keep and not args.reuse:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
