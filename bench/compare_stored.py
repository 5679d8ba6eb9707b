"""Compare what two runs stored: two newscrawl SQLite databases of the same crawl or ingest,
made by two versions of the code (a change that must leave stored results unchanged).

Articles are keyed by canonical URL (the ports of 127.0.0.x hosts stripped: each bench run
serves its sites on new ports), every article id replaced by that key, so groups and
stories compare as the key of their founder; site blocks are keyed by (site, hash). Only
wall-clock columns are left out. Exit status 0 when identical.

An ingest of one WARC file stores its records in file order: two versions must store
exactly the same. A crawl stores pages as they arrive, so the founder of a group, and
the stories that chain through it, change with the order from run to run of the same
code: ``--partition`` compares groups and stories as sets of members, and leaves out
the columns relative to the founder (is_canonical, similarities).

    python bench/compare_stored.py old.db new.db
    python bench/compare_stored.py old.db new.db --partition
"""
import argparse
import re
import sqlite3
import sys
from pathlib import Path

PORT = re.compile(r"(127\.0\.0\.\d+):\d+")
VOLATILE = {"fetched_at", "first_seen_at", "boilerplate_since", "window_time"}


def norm(v):
    if isinstance(v, str):
        return PORT.sub(r"\1", v)
    return v


def rows_by_article(c, table, id_column, key, convert):
    """A table's rows keyed by their article's canonical URL, with group and story ids
    turned into their founders' URLs (row ids differ between two runs)."""
    cols = [r[1] for r in c.execute(f"pragma table_info({table})")]
    rows = {}
    for row in c.execute(f"select * from {table}"):
        d = dict(zip(cols, row))
        k = key[d.pop(id_column)]
        for name in ("dup_group_id", "story_id"):
            d[name] = key.get(d[name], d[name]) if d[name] is not None else None
        rows[k] = {n: convert(v) for n, v in d.items() if n not in VOLATILE}
    return rows


def dump(path):
    c = sqlite3.connect(path)
    key = {i: norm(u) for i, u in c.execute("select id, canonical_url from articles")}
    out = {}
    out["articles"] = rows_by_article(c, "articles", "id", key, norm)
    out["article_signatures"] = rows_by_article(c, "article_signatures", "article_id", key, lambda v: v)
    out["article_bands"] = sorted((b, key[a]) for b, a in c.execute("select band_key, article_id from article_bands"))
    cols = [r[1] for r in c.execute("pragma table_info(site_blocks)")]
    blocks = {}
    for row in c.execute("select * from site_blocks"):
        d = {n: norm(v) for n, v in zip(cols, row) if n not in VOLATILE and n != "id"}
        blocks[(d["site"], d["block_hash"])] = d
    out["site_blocks"] = blocks
    out["site_blocks_since_set"] = sorted((norm(s), h) for s, h in c.execute(
        "select site, block_hash from site_blocks where boilerplate_since is not null"))
    out["site_profiles"] = sorted(tuple(map(norm, r)) for r in c.execute("select * from site_profiles"))
    out["dead_ends"] = sorted(tuple(map(norm, r[:4])) for r in c.execute("select * from dead_ends"))
    return out

ORDER = {"dup_group_id", "story_id", "is_canonical", "dup_similarity", "story_similarity"}


def partition(d):
    """Order-free: groups and stories as sets of members; columns relative to the founder dropped."""
    for table in ("articles", "article_signatures"):
        rows = d[table]
        members = {}
        for name in ("dup_group_id", "story_id"):
            by = {}
            for k, r in rows.items():
                by.setdefault(r[name] or k, set()).add(k)
            members[name] = {k: frozenset(by[r[name] or k]) for k, r in rows.items()}
        d[table] = {k: {**{n: v for n, v in r.items() if n not in ORDER},
                        "group": members["dup_group_id"][k], "story": members["story_id"][k]}
                    for k, r in rows.items()}
    for r in d["site_blocks"].values():
        r["sample"] = r["sample"].lower()
    return d


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="the first run's SQLite database")
    parser.add_argument("new", type=Path, help="the second run's SQLite database")
    parser.add_argument("--partition", action="store_true",
                        help="compare groups and stories as sets of members (crawls)")
    args = parser.parse_args()
    for path in (args.old, args.new):
        if not path.is_file():
            parser.exit(2, f"compare_stored.py: no database at {path}: give two newscrawl SQLite files\n")
    a, b = dump(str(args.old)), dump(str(args.new))
    if args.partition:
        a, b = partition(a), partition(b)
    same = True
    for table in a:
        x, y = a[table], b[table]
        if x == y:
            print(f"{table}: identical ({len(x)} rows)")
            continue
        same = False
        if isinstance(x, dict):
            only_a, only_b = x.keys() - y.keys(), y.keys() - x.keys()
            diff = [k for k in x.keys() & y.keys() if x[k] != y[k]]
            print(f"{table}: DIFFER: {len(only_a)} only in A, {len(only_b)} only in B, {len(diff)} differ of {len(x)}")
            for k in diff[:3]:
                print("   ", k, {n: (x[k][n], y[k][n]) for n in x[k] if x[k][n] != y[k].get(n)})
        else:
            print(f"{table}: DIFFER ({len(x)} vs {len(y)} rows)", set(x) ^ set(y) if len(x) < 50 else "")
    print("IDENTICAL" if same else "DIFFERENT")
    sys.exit(0 if same else 1)

if __name__ == "__main__":
    main()
