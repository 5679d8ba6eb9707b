"""``newscrawl ingest``: the list of WARC files to read, and the summary printed after."""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from crawler.spiders.warc import NOT_FOLLOWED, RECORDS_READ, RESPONSES_READ


def warc_paths(files: list[str], from_file: str | None) -> list[str]:
    """The WARC paths to ingest, checked before anything starts (a usage error otherwise)."""
    paths = list(files)
    if from_file:
        if from_file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            listing = Path(from_file)
            if not listing.is_file():
                raise ValueError(f"--from {from_file}: no such file")
            data = listing.read_bytes()
            if data[:2] == b"\x1f\x8b":
                import gzip

                data = gzip.decompress(data)
            lines = data.decode("utf-8", "replace").splitlines()
        paths += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not paths:
        raise ValueError("no WARC files given: pass FILE..., - for stdin, or --from LIST")
    unique: dict[str, str] = {}
    for path in paths:  # a file named twice is read once
        unique.setdefault(path if path == "-" else str(Path(path).resolve()), path)
    paths = list(unique.values())
    if paths.count("-") + (from_file == "-") > 1:
        raise ValueError("stdin (-) can be read once: as one WARC file or as the --from list, not both")
    for path in paths:
        if path == "-":
            continue
        if urlsplit(path).scheme in ("http", "https", "s3"):
            raise ValueError(f"{path}: ingest reads local files; download it first, or pipe it: "
                             f"curl -s {path} | newscrawl ingest -")
        if not Path(path).is_file():
            raise ValueError(f"no such WARC file: {path} (paths in a --from list are relative to the current "
                             f"directory)")
    return paths


def print_ingest_summary(report, out) -> None:
    records = report.by_prefix(RECORDS_READ + "/")
    if records:
        print("WARC records read: " + ", ".join(f"{k}={v}" for k, v in sorted(records.items()))
              + f"; responses {report.count(RESPONSES_READ)}", file=out)
    if report.count("newscrawl/warc/files_already_ingested"):
        print(f"Files already ingested (skipped): {report.count('newscrawl/warc/files_already_ingested')}", file=out)
    not_followed = report.by_prefix(NOT_FOLLOWED + "/")
    if not_followed:
        print("Not followed (an ingest reads the archive only): "
              + ", ".join(f"{k}={v}" for k, v in not_followed.items()), file=out)
