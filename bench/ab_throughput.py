"""Two versions of newscrawl, alternated on the same WARC or the same sites: which is faster.

On a shared machine one run's articles/s says as much about the other processes as about
the code. This runs the base version (a source tree, such as ``git worktree add`` or
``git archive REV | tar -x -C DIR`` of the commit before a change) and this tree in turn,
``--rounds`` times, swapping which goes first each round, and prints per round the
articles/s, the CPU ms per stored article (main process and the rest: workers, fork
server) and the cores busy; then the median of the rounds' new/base ratios. CPU per
article moves little with the machine's load, so it shows a change of a few percent that
articles/s hides.

    python bench/ab_throughput.py --base /tmp/base ingest            # the WARC of bench/warc_ingest.py
    python bench/ab_throughput.py --base /tmp/base --rounds 4 crawl  # the throughput set
    python bench/ab_throughput.py --base /tmp/base ingest --set NEWSCRAWL_STORE_BATCH_SIZE=64
"""
from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from crawl_throughput import (  # noqa: E402
    POLITENESS_OFF,
    TreeSampler,
    build_sites,
    load_pages,
    sample_process,
    trafilatura_floor_cpu,
)
from warc_ingest import build_warc  # noqa: E402

from crawler.ops.sampleserver import serve_sample_sites  # noqa: E402

# The CLI of whichever tree is first on PYTHONPATH (an editable install's finder comes after it).
CLI = "import sys; from crawler.ops.cli import main; sys.exit(main())"


def run_version(tree: str, args: list[str], cwd: Path) -> tuple[float, TreeSampler]:
    """The newscrawl command ``args`` with the code of ``tree``: (wall seconds, its sampler)."""
    env = dict(os.environ, PYTHONPATH=tree)
    sampler, out, err = sample_process([sys.executable, "-c", CLI, *args], f"{tree}: newscrawl {args[0]}",
                                       env=env, cwd=cwd)
    if not re.search(r"(?:Crawl|Ingest) \w+ in", out):
        sys.exit(f"{tree}: newscrawl {args[0]} printed no summary:\n{out}\n{err[-3000:]}")
    return sampler.wall, sampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("ingest", "crawl"))
    parser.add_argument("--base", required=True, help="source tree of the version to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="setting for both versions (repeatable)")
    args = parser.parse_args()
    base = Path(args.base).resolve()
    if not (base / "crawler" / "ops" / "cli.py").is_file():
        parser.error(f"--base {args.base}: not a newscrawl source tree")
    versions = {"base": str(base), "new": str(REPO)}

    pages = load_pages()
    results: dict[str, list[dict]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        serving = None
        if args.mode == "ingest":
            warc = tmp / "bench.warc.gz"
            build_warc(warc, pages, len(pages) * 3, 12)
            command = ["ingest", str(warc)]
        else:
            build_sites(tmp / "sites", pages, 20, 3)
            serving = serve_sample_sites(tmp / "sites")
            sites = serving.__enter__()
            sites_file = tmp / "sites.toml"
            sites_file.write_text(sites.sites_toml(), encoding="utf-8")
            command = ["crawl", "--allow-private", "--sites", str(sites_file), "--set", "DEPTH_LIMIT=1"]
            for setting in POLITENESS_OFF:
                command += ["--set", setting]
        for setting in args.overrides:
            command += ["--set", setting]
        try:
            for round_ in range(args.rounds):
                floor, _ = trafilatura_floor_cpu(pages)
                for name in ("base", "new") if round_ % 2 == 0 else ("new", "base"):
                    db = tmp / f"{name}-{round_}.db"
                    wall, sampler = run_version(versions[name], [command[0], "--db", f"sqlite:///{db}",
                                                                 *command[1:]], tmp)
                    with sqlite3.connect(db) as connection:
                        stored = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
                    db.unlink()
                    row = dict(rate=stored / wall, main=sampler.cpu_main / max(stored, 1) * 1000,
                               others=sampler.cpu_others / max(stored, 1) * 1000,
                               busy=sampler.cpu_total / wall)
                    row["cpu"] = row["main"] + row["others"]
                    results[name].append(row)
                    print(f"round {round_} {name:4}: {stored} stored in {wall:.1f} s, {row['rate']:.1f} articles/s "
                          f"({row['rate'] / floor:.2f}x the floor of this round) | CPU ms per article: main "
                          f"{row['main']:.1f}, others {row['others']:.1f} | cores busy {row['busy']:.2f}; "
                          f"machine: {sampler.utilisation(os.cpu_count() or 1)}", flush=True)
        finally:
            if serving is not None:
                serving.__exit__(None, None, None)
    print("\nnew/base, median of the rounds (each round's ratio in brackets):")
    for key, label in (("rate", "articles/s"), ("cpu", "CPU per article"), ("main", "  main process"),
                       ("others", "  workers"), ("busy", "cores busy")):
        ratios = [new[key] / old[key] for old, new in zip(results["base"], results["new"])]
        print(f"  {label:<16} {statistics.median(ratios):.3f}  ({', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
