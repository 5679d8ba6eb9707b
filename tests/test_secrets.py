"""A database password, however it is written, never reaches any command's output."""
from __future__ import annotations

import pytest

from models.db import redact
from tests.conftest import run_cli

SECRETS = ("Userinfo-s3cret-1", "Query-s3cret-2", "Ssl-s3cret-3", "Keyword-s3cret-4")


def planted(pg_url: str) -> str:
    """The test database's URL with a password in every place a URL can carry one.
    Trust authentication accepts any password, so the URL still works."""
    url = pg_url.replace("postgres@", f"postgres:{SECRETS[0]}@")
    return f"{url}?password={SECRETS[1]}&sslpassword={SECRETS[2]}&application_name=password%3D{SECRETS[3]}"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret} printed:\n{text[-3000:]}"


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://u:pw-A@h/db?password=pw-B&sslpassword=pw-C&sslmode=require",
    "postgresql+psycopg://u@h/db?PassWord=pw-B&options=-c%20password%3Dpw-C",
    "host=127.0.0.1 dbname=news password=pw-A sslpassword='pw B' user=u",
    "sqlite:///host=h password=pw-A",
])
def test_redact_hides_every_password_form(url):
    hidden = redact(url)
    assert not any(secret in hidden for secret in ("pw-A", "pw-B", "pw-C", "pw B")), hidden
    assert "***" in hidden or "%2A%2A%2A" in hidden


def test_redact_keeps_what_is_not_secret():
    assert redact("sqlite:///newscrawl.db") == "sqlite:///newscrawl.db"
    kept = redact("postgresql+psycopg://u:pw@db.example:5433/news?sslmode=require")
    assert kept == "postgresql+psycopg://u:***@db.example:5433/news?sslmode=require"


@pytest.mark.postgres
@pytest.mark.integration
def test_no_command_prints_a_planted_password(pg_url, sample_sites, tmp_path):
    url = planted(pg_url)
    site = sample_sites["kyivwire"]
    report_file = tmp_path / "report.html"
    commands = [
        ("-vv", "crawl", "--db", url, "--allow-private", "--set", "AUTOTHROTTLE_ENABLED=False",
         "--set", "NEWSCRAWL_EXTRACT_PROCESSES=1", *site.start_urls),
        ("-vv", "status", "--db", url),
        ("-vv", "export", "--db", url, "--format", "csv"),
        ("-vv", "report", "--db", url, "-o", str(report_file)),
        ("-vv", "reprocess", "--db", url),
        ("-vv", "db", "upgrade", "--db", url),
        # Failures print the URL too: an unreachable server, and a libpq keyword string.
        ("-vv", "status", "--db", url.replace("127.0.0.1:5432", "127.0.0.1:9")),
        ("-vv", "db", "upgrade", "--db", f"host=127.0.0.1 port=9 password={SECRETS[3]} dbname=x"),
    ]
    for argv in commands:
        result = run_cli(*argv)
        assert_no_secret(result.stdout, result.stderr)  # tracebacks included (usage errors are issue 13's)
    assert report_file.exists()
    assert_no_secret(report_file.read_text(encoding="utf-8"))
    # The same URL from the environment instead of --db.
    result = run_cli("-vv", "status", env={"NEWSCRAWL_DB": url})
    assert result.returncode == 0, result.stderr[-2000:]
    assert_no_secret(result.stdout, result.stderr)


@pytest.mark.parametrize("db", ["host=127.0.0.1 port=9 password=pw-A dbname=x", " dbname=news user=u"])
def test_a_libpq_keyword_string_is_a_usage_error_not_an_sqlite_file(db, tmp_path, monkeypatch, capsys):
    from crawler.ops import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["db", "upgrade", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "postgresql://" in err and "pw-A" not in err
    assert list(tmp_path.iterdir()) == []  # no SQLite file named after the string
