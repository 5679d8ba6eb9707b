"""A user's mistakes get one line and exit 2 (1 for an unusable database), never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.ops import cli
from crawler.config import SettingError, check_overrides
from models.db import redact, resolve_database_url
from tests.conftest import REPO, run_cli


def one_line_error(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[-1].startswith("newscrawl"), result.stderr
    return lines[-1]


def test_plain_path_to_db_is_an_sqlite_file(tmp_path, capsys):
    path = tmp_path / "plain.db"
    assert resolve_database_url(str(path)) == f"sqlite:///{path}"
    assert redact(str(path)) == str(path)  # no crash on what is not a URL
    assert cli.main(["db", "upgrade", "--db", str(path)]) == 0
    assert path.exists()
    assert cli.main(["status", "--db", str(path)]) == 0
    assert "Last 0 runs" in capsys.readouterr().out


def test_relative_plain_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_database_url("rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"


def test_database_url_that_cannot_work_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["status", "--db", "nonsense://x y"]) == 2
    assert "is not a database URL" in capsys.readouterr().err


def test_unreadable_database_is_one_line_and_exit_1(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite file" * 100)
    for command in (["status"], ["export"], ["report"], ["crawl", "http://news.example/"]):
        result = run_cli(*command[:1], "--db", str(garbage), *command[1:])
        assert result.returncode == 1, (command, result.stderr)
        assert "not usable" in one_line_error(result)


def test_read_only_database_is_refused_before_a_crawl(tmp_path):
    db = tmp_path / "ro.db"
    assert run_cli("db", "upgrade", "--db", str(db)).returncode == 0
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    result = run_cli("crawl", "--db", read_only, "http://news.example/")
    assert result.returncode == 1
    assert "readonly" in one_line_error(result)
    # Reading commands still work on a read-only database.
    assert run_cli("status", "--db", read_only).returncode == 0


def test_out_of_range_story_is_a_usage_error(tmp_path):
    result = run_cli("export", "--db", str(tmp_path / "e.db"), "--story", "99999999999999999999")
    assert result.returncode == 2
    assert "no story has the id" in one_line_error(result)


@pytest.mark.parametrize("pair, words", [
    ("CONCURRENT_REQUESTS_PER_DOMAIN=0", "CONCURRENT_REQUESTS_PER_DOMAIN=0 is invalid: expected a whole number of at least 1"),
    ("DOWNLOAD_DELAY=abc", "DOWNLOAD_DELAY=abc is invalid: expected a number"),
    ("NEWSCRAWL_LISTING_DEPTH=0", "NEWSCRAWL_LISTING_DEPTH=0 is invalid"),
    ("ROBOTSTXT_OBEY=maybe", "ROBOTSTXT_OBEY=maybe is invalid: expected True or False"),
    ("LOG_LEVEL=LOUD", "expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    ("CONCURRENT_REQUESTS_PER_DOMAN=2", "unknown setting CONCURRENT_REQUESTS_PER_DOMAN; did you mean CONCURRENT_REQUESTS_PER_DOMAIN?"),
])
def test_invalid_settings_name_the_setting_and_what_it_accepts(pair, words, tmp_path, capsys):
    assert cli.main(["crawl", "--db", str(tmp_path / "s.db"), "--set", pair, "http://news.example/"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert not (tmp_path / "s.db").exists(), "refused before anything starts"


def test_valid_settings_pass():
    check_overrides({"DOWNLOAD_DELAY": "0.5", "CONCURRENT_REQUESTS_PER_DOMAIN": "1", "AUTOTHROTTLE_ENABLED": "False",
                     "NEWSCRAWL_EXTRACT_PROCESSES": "0", "LOG_LEVEL": "debug", "SCHEDULER_PERSIST": "True",
                     "USER_AGENT": "x"})
    with pytest.raises(SettingError):
        check_overrides({"NEWSCRAWL_MAX_FAILURE_SHARE": "1.5"})


def test_scrapy_crawl_refuses_a_setting_that_cannot_work(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "news", "-a", "urls=http://news.example/",
                             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=0", "-s", f"DATABASE_URL=sqlite:///{tmp_path / 'x.db'}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "CONCURRENT_REQUESTS_PER_DOMAIN=0 is invalid" in result.stderr


def test_quiet_and_verbose_after_the_command(tmp_path, capsys):
    db = str(tmp_path / "q.db")
    assert cli.main(["status", "--db", db, "--quiet"]) == 0
    assert cli.main(["db", "upgrade", "-v", "--db", db]) == 0
    args = cli.build_parser().parse_args(["-v", "crawl", "--quiet", "http://x.example/"])
    assert args.quiet and args.verbose == 1


def test_status_into_a_closed_pipe_is_not_an_error(tmp_path):
    db = tmp_path / "pipe.db"
    assert run_cli("db", "upgrade", "--db", str(db)).returncode == 0
    script = f"'{sys.executable}' -m crawler.ops.cli status --db '{db}' | true; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stdout.strip() == "0"


def test_log_level_and_log_file_through_set(tmp_path):
    log = tmp_path / "crawl.log"
    result = run_cli("crawl", "--db", str(tmp_path / "f.db"), "--set", "LOG_LEVEL=DEBUG", "--set", f"LOG_FILE={log}",
                     "--allow-private", "--set", "RETRY_TIMES=0", "http://127.0.0.1:9/")
    assert "DEBUG" not in result.stderr and "INFO" not in result.stderr, result.stderr
    text = log.read_text()
    assert "DEBUG" in text and "Spider opened" in text
    quiet = run_cli("crawl", "--db", str(tmp_path / "l.db"), "--set", "LOG_LEVEL=CRITICAL", "--allow-private",
                    "--set", "RETRY_TIMES=0", "http://127.0.0.1:9/")
    assert "WARNING" not in quiet.stderr and "INFO" not in quiet.stderr, quiet.stderr
