"""The CLI contract: commands, flags, output records, exit codes."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import run_cli
from tests.helpers import page_path, sample_sites, seed_texts

COMMANDS = [[], ["crawl"], ["export"], ["extract"], ["cluster"], ["db"], ["db", "upgrade"], ["demo"], ["report"],
            ["reprocess"], ["status"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "newscrawl")
def test_every_command_has_help(command):
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: newscrawl" in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("crawl", "ftp://example.com/").returncode == 2
    assert run_cli("crawl", "--sites", str(tmp_path / "missing.toml")).returncode == 2
    assert run_cli("crawl", "--set", "NOEQUALS", "http://x.example/").returncode == 2
    assert run_cli("nonsense").returncode == 2


def test_crawl_fails_with_exit_1_when_database_unreachable(tmp_path):
    result = run_cli("crawl", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--allow-private",
                     "http://127.0.0.1:9/")
    assert result.returncode == 1, result.stdout + result.stderr


def test_extract_outputs_one_record_per_file_in_order(tmp_path):
    articles = [(site, a) for site in sample_sites() for a in site.manifest["article"]][:3]
    files = []
    for n, (site, article) in enumerate(articles):
        target = tmp_path / f"{n}.html"
        target.write_bytes(page_path(site, article["path"]).read_bytes())
        files.append(str(target))
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>")
    result = run_cli("extract", *files, str(empty))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == files + [str(empty)]
    for record, (_, article) in zip(records, articles):
        assert record["title"] == article["title"]
        assert record["published_at"] is not None
        assert {"authors", "language", "text"} <= record.keys()
    assert records[-1]["error"] == "no_text" and records[-1]["text"] == ""


def test_cluster_without_database(tmp_path):
    seeds = seed_texts()
    records = [{"id": k, "url": f"https://s{k}.example/a", "title": "t", "text": v, "published_at": None}
               for k, v in seeds.items()]
    records.append({"id": "001-copy", "url": "https://mirror.example/a", "title": "t",
                    "text": seeds["001"] + " Subscribe to our channel.", "published_at": "2025-01-29T10:00:00Z"})
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records))
    out = tmp_path / "out.jsonl"
    result = run_cli("cluster", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    clustered = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert clustered["001-copy"]["dup_group_id"] == clustered["001"]["dup_group_id"]
    assert len({r["dup_group_id"] for r in clustered.values()}) == 5
    assert all("story_id" in r for r in clustered.values())


def test_cluster_rejects_bad_input(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1}\n')
    result = run_cli("cluster", str(source))
    assert result.returncode == 2
    assert "needs 'id' and 'text'" in result.stderr


def test_db_upgrade_then_export_formats(sample_sites, sites_file, tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade = run_cli("db", "upgrade", "--db", db)
    assert upgrade.returncode == 0 and "revision" in upgrade.stdout
    site = sample_sites["kyivwire"]
    crawl = run_cli("crawl", "--db", db, "--allow-private", "--set", "AUTOTHROTTLE_ENABLED=False", *site.start_urls)
    assert crawl.returncode == 0, crawl.stderr
    jsonl = run_cli("export", "--db", db)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == len(site.manifest["article"])
    fields = {"url", "canonical_url", "site", "title", "authors", "published_at", "language", "text",
              "dup_group_id", "story_id", "fetched_at"}
    assert all(fields <= r.keys() for r in records)
    assert all(r["published_at"].endswith("+00:00") for r in records)
    out = tmp_path / "a.csv"
    assert run_cli("export", "--db", db, "--format", "csv", "-o", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["canonical_url"] for r in rows] == [r["canonical_url"] for r in records]
    assert json.loads(rows[0]["authors"]) == records[0]["authors"]


def test_database_from_environment(sample_sites, tmp_path):
    db = f"sqlite:///{tmp_path / 'env.db'}"
    result = run_cli("db", "upgrade", env={"NEWSCRAWL_DB": db})
    assert result.returncode == 0
    assert (tmp_path / "env.db").exists()


def test_default_sites_file_matches_the_sample_sites():
    import tomllib

    from tests.conftest import REPO

    listed = tomllib.loads((REPO / "seeds" / "sites.toml").read_text())["site"]
    starts = sorted(url for entry in listed for url in entry["start"])
    expected = sorted(f"http://127.0.0.1:{s.manifest['port']}{p}" for s in sample_sites() for p in s.manifest["start"])
    assert starts == expected
