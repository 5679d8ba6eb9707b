"""Incremental dedupe at scale: cost and index memory of one Deduper.

Streams synthetic documents (bench/labelled_sets.py ``iter_synthetic``: the 181
real benchmark texts made into distinct originals plus syndicated copies; only
the 181 bases are held, each document is dropped after it is added) into one
``Deduper`` in generation order (nearly chronological, copies right after their
original), and prints:

1. Cost (no tracing), in CPU time of this process (``time.process_time``, so a
   loaded machine changes it little): per article, ``Deduper.signature`` (MinHash
   plus story terms) and the assignment (``assign`` with that signature, then
   ``commit``), and the assignment per article in each tenth of the stream, which
   shows whether it grows with the index. Document generation is timed apart and
   excluded.
2. Optionally (``--workers N``), the pipelined run: signatures in N worker
   processes, assignment here, in order (wall time; it holds every document).
3. Index memory (a second pass under tracemalloc, which slows it down): traced
   memory after adding all documents minus traced memory before the Deduper was
   created, divided by n. The generated texts and the returned Assignments are
   not retained, so this is the Deduper's own growth (arrays, band index, key
   strings and dicts). Also the Deduper's ``index_nbytes()`` (arrays only) when
   it has one, and the pass's peak. ``--no-memory`` skips it.

``--dedupe-root DIR`` imports the ``dedupe`` package from another checkout (for
example a worktree of an older commit), with this checkout's generator, so that
two versions are compared on the same documents:

    python bench/dedupe_scale.py --n 100000 --no-memory
    python bench/dedupe_scale.py --n 100000 --no-memory --dedupe-root ../old-worktree

One heavy run at a time; the ratio of two runs made one after the other on the
same machine is the figure to quote, not either absolute number.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent


def _dedupe_root(argv: list[str]) -> Path:
    """The checkout whose ``dedupe`` is measured (read before the import below)."""
    for i, arg in enumerate(argv):
        if arg == "--dedupe-root" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--dedupe-root="):
            return Path(arg.split("=", 1)[1]).resolve()
    return REPO


DEDUPE_ROOT = _dedupe_root(sys.argv)
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(DEDUPE_ROOT))

from dedupe import DedupeSettings  # noqa: E402

try:  # the public API; Deduper may not be re-exported from dedupe yet
    from dedupe import Deduper  # type: ignore[attr-defined]  # noqa: E402
except ImportError:  # pragma: no cover
    from dedupe.grouping import Deduper  # noqa: E402

import labelled_sets  # noqa: E402



def cost(n: int, seed: int, settings: DedupeSettings, slices: int = 10) -> None:
    """Signature and assignment CPU per article, over the whole stream and per slice of it."""
    deduper = Deduper(settings)
    sign_cpu = assign_cpu = 0.0
    slice_size = max(1, n // slices)
    slice_assign: list[float] = []
    slice_start = 0.0
    started = time.process_time()
    clock = time.process_time
    for count, (record, _, _) in enumerate(labelled_sets.iter_synthetic(n, seed), 1):
        t0 = clock()
        signature = deduper.signature(record)
        t1 = clock()
        deduper.commit(deduper.assign(record, signature))
        t2 = clock()
        sign_cpu += t1 - t0
        assign_cpu += t2 - t1
        if count % slice_size == 0:
            slice_assign.append((assign_cpu - slice_start) / slice_size)
            slice_start = assign_cpu
    total = time.process_time() - started
    print(f"cost ({n:,} documents, signature then assign+commit, CPU time of this process, no tracing):")
    print(f"  signature per article:    {sign_cpu / n * 1e6:10.1f} µs")
    print(f"  assignment per article:   {assign_cpu / n * 1e6:10.1f} µs")
    print(f"  both per article:         {(sign_cpu + assign_cpu) / n * 1e6:10.1f} µs "
          f"({n / (sign_cpu + assign_cpu):,.0f} articles per CPU second)")
    print("  assignment per article in each tenth: "
          + " ".join(f"{v * 1e6:.0f}" for v in slice_assign) + " µs")
    print(f"  generation (excluded):    {total - sign_cpu - assign_cpu:10.2f} s CPU")


_worker_deduper = None


def _sign_chunk(settings: DedupeSettings, records: list) -> list:
    global _worker_deduper
    if _worker_deduper is None:
        _worker_deduper = Deduper(settings)
    return [_worker_deduper.signature(record) for record in records]


def pipelined_speed(n: int, seed: int, settings: DedupeSettings, workers: int, chunk: int = 250) -> None:
    """Signatures in worker processes (as the crawl computes them in its extraction
    workers), assignment incremental and in order in this process.

    The documents are generated first, outside the clock: generation stands for
    extraction, which the crawl does in its workers, and done here it would take a
    third of this process's time away from the assignment being measured."""
    import collections
    import itertools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    t = time.perf_counter()
    records = [record for record, _, _ in labelled_sets.iter_synthetic(n, seed)]
    generation = time.perf_counter() - t
    batches = [records[i : i + chunk] for i in range(0, len(records), chunk)]
    del records
    deduper = Deduper(settings)
    assign_seconds = 0.0
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        pool.submit(_sign_chunk, settings, batches[0][:1]).result()  # workers started and warm
        started = time.perf_counter()
        pending = collections.deque()
        upcoming = iter(batches)

        def submit() -> None:
            batch = next(upcoming, None)
            if batch is not None:
                pending.append((batch, pool.submit(_sign_chunk, settings, batch)))

        for _ in range(workers * 2):  # keep the workers busy, memory bounded
            submit()
        while pending:
            batch, future = pending.popleft()
            signatures = future.result()
            submit()
            t = time.perf_counter()
            for record, signature in zip(batch, signatures):
                deduper.commit(deduper.assign(record, signature))
            assign_seconds += time.perf_counter() - t
        wall = time.perf_counter() - started
        # The same assignment once more, alone on the machine: the signatures made
        # beforehand (the crawl's workers make them as part of extraction).
        signed = [(record, signature) for batch, signatures in
                  zip(batches, pool.map(_sign_chunk, itertools.repeat(settings), batches))
                  for record, signature in zip(batch, signatures)]
    alone = Deduper(settings)
    t = time.perf_counter()
    for record, signature in signed:
        alone.commit(alone.assign(record, signature))
    alone_seconds = time.perf_counter() - t
    print(f"pipelined ({n:,} documents; signatures in {workers} worker processes, assignment here, in order):")
    print(f"  wall time, signing and assigning: {wall:8.2f} s  ({n / wall:,.0f} articles/s)")
    print(f"  of which assignment:      {assign_seconds:10.2f} s  ({assign_seconds / n * 1e6:.0f} µs per article, "
          "sharing the cores with the signing workers)")
    print(f"  assignment alone, signatures made beforehand: {alone_seconds:.2f} s "
          f"({alone_seconds / n * 1e6:.0f} µs per article)")
    print(f"  generation (excluded):    {generation:10.2f} s")


def memory(n: int, seed: int, settings: DedupeSettings) -> None:
    stream = labelled_sets.iter_synthetic(n, seed)
    first = next(stream)  # loads the 181 bases and the lead vocabulary before the baseline
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    deduper = Deduper(settings)
    deduper.add(first[0])
    del first
    for record, _, _ in stream:
        deduper.add(record)
    del record
    seconds = time.perf_counter() - started
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    grown = after - before
    print(f"index memory ({n:,} documents, tracemalloc; this pass took {seconds:.1f} s with tracing):")
    print(f"  Deduper growth:           {grown / 2**20:10.1f} MiB")
    print(f"  per article:              {grown / n:10.0f} bytes")
    if hasattr(deduper, "index_nbytes"):
        print(f"  index_nbytes() per article (arrays only): {deduper.index_nbytes() / n:.0f} bytes")
    print(f"  peak traced during pass:  {(peak - before) / 2**20:10.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--quick", action="store_true", help="10,000 documents")
    parser.add_argument("--seed", type=int, default=0, help="synthetic-set seed (default 0)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--workers", type=int, default=0,
                        help="signature processes for a pipelined run (default 0: none; it holds every document)")
    parser.add_argument("--dedupe-root", default=str(REPO),
                        help="checkout whose dedupe package is measured (default: this one)")
    args = parser.parse_args()
    n = 10_000 if args.quick else args.n
    settings = DedupeSettings()
    print(f"dedupe from: {DEDUPE_ROOT}")
    print(f"settings: {settings}")
    cost(n, args.seed, settings)
    gc.collect()
    if args.workers:
        pipelined_speed(n, args.seed, settings, args.workers)
    if not args.no_memory:
        memory(n, args.seed, settings)


if __name__ == "__main__":
    main()
