"""LSH index: insert and query cost, and memory per signature.

Compares, on the same random 128-permutation signatures with the crawl's band layout
(``candidate_params(DedupeSettings().candidate_jaccard)``: 32 bands x 4 rows):
- newscrawl's compact in-memory BandIndex (dedupe/index.py), at 100k and 1M signatures;
- datasketch's in-memory MinHashLSH (the baseline), at 100k;
- datasketch's MinHashLSH on the Redis at 127.0.0.1:6379 (the shared index), at --redis-n.
It also prints the MinHash cost per article on real article texts (numpy, and datasketch's
MinHash.update_batch as the baseline), measured in the same process.

    python bench/lsh_index.py [--sizes 100000,1000000] [--redis-n 20000]
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dedupe import DedupeSettings  # noqa: E402
from dedupe.index import BandIndex, RedisBandIndex, candidate_params  # noqa: E402
from dedupe.signature import minhash_values, shingle_hashes, to_lean, tokens  # noqa: E402

NUM_PERM, QUERIES = 128, 2000
CANDIDATE_JACCARD = DedupeSettings().candidate_jaccard  # the crawl's own layout
BENCH_DIR = REPO.parent / "shared" / "benchmarks" / "article-extraction"


def signatures(n: int, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 2**32 - 1, size=(n, NUM_PERM), dtype=np.uint64).astype(np.uint32)


def measure(label: str, make, sigs: np.ndarray, to_value=lambda v: v, memory_of=None) -> None:
    """Time inserts and queries (no tracing active), then report memory per signature:
    ``memory_of(index)`` when given (exact array sizes, or Redis's own accounting),
    else a second, traced build of the same index."""
    index = make()
    started = time.perf_counter()
    for i, sig in enumerate(sigs):
        index.insert(i, to_value(sig))
    insert_s = time.perf_counter() - started
    step = max(1, len(sigs) // QUERIES)
    probes = sigs[::step][:QUERIES]
    started = time.perf_counter()
    hits = sum(i * step in index.query(to_value(sig)) for i, sig in enumerate(probes))
    query_s = time.perf_counter() - started
    if memory_of is not None:
        memory = memory_of(index)
    else:
        del index
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        traced = make()
        for i, sig in enumerate(sigs):
            traced.insert(i, to_value(sig))
        memory = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    print(f"  {label:<34} n={len(sigs):>9,}  insert {insert_s / len(sigs) * 1e6:7.1f} µs  "
          f"query {query_s / len(probes) * 1e6:7.1f} µs  memory {memory / len(sigs):7.0f} B/signature  "
          f"(self-hits {hits}/{len(probes)})")


def band_index_bytes(index: BandIndex) -> int:
    return index.nbytes()  # every level (main and young arrays, the pending matrix) as it stands


def minhash_cost() -> None:
    from datasketch import MinHash

    truth = json.loads((BENCH_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    texts = [entry["articleBody"] for entry in truth.values()]
    words = [tokens(t) for t in texts]
    started = time.perf_counter()
    for w in words:
        minhash_values(shingle_hashes(w, 5), NUM_PERM, 1)
    ours = (time.perf_counter() - started) / len(texts) * 1e6
    started = time.perf_counter()
    for w in words:
        shingles = {" ".join(w[i : i + 5]).encode() for i in range(max(len(w) - 4, 1))}
        mh = MinHash(num_perm=NUM_PERM)
        mh.update_batch(list(shingles))
    theirs = (time.perf_counter() - started) / len(texts) * 1e6
    mean_words = sum(map(len, words)) / len(words)
    print(f"MinHash per article ({len(texts)} real articles, {mean_words:.0f} words on average, tokens given):")
    print(f"  numpy crc32 + multiply-shift: {ours:7.1f} µs   datasketch update_batch (SHA-1): {theirs:7.1f} µs   "
          f"ratio {theirs / ours:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--redis-n", type=int, default=20000, help="signatures for the Redis index (0: skip)")
    args = parser.parse_args()
    bands, rows = candidate_params(CANDIDATE_JACCARD, NUM_PERM)
    print(f"candidate Jaccard {CANDIDATE_JACCARD}, {NUM_PERM} permutations: {bands} bands x {rows} rows")
    minhash_cost()
    print("Index:")
    for n in (int(x) for x in args.sizes.split(",")):
        sigs = signatures(n)
        measure("BandIndex (newscrawl, in memory)", lambda: BandIndex(bands, rows), sigs, memory_of=band_index_bytes)
        if n <= 100_000:
            from datasketch import MinHashLSH

            measure("datasketch MinHashLSH (in memory)", lambda: MinHashLSH(num_perm=NUM_PERM, params=(bands, rows)),
                    sigs, to_value=lambda v: to_lean(v, 1))
        del sigs
    if args.redis_n:
        basename = f"newscrawl-bench-{uuid.uuid4().hex[:8]}"
        storage = {"type": "redis", "redis": {"host": "127.0.0.1", "port": 6379}, "basename": basename.encode()}
        import redis

        client = redis.Redis()
        used_before = client.info("memory")["used_memory"]
        try:
            measure("datasketch MinHashLSH on Redis", lambda: RedisBandIndex(bands, rows, NUM_PERM, 1, storage, "b"),
                    signatures(args.redis_n),
                    memory_of=lambda _: client.info("memory")["used_memory"] - used_before)
        finally:
            for key in client.scan_iter(match=basename.encode() + b"*"):
                client.delete(key)


if __name__ == "__main__":
    main()
