"""Refused settings, as an operator meets them: the real `rampart` (and `python -m server`)
exits non-zero with one stderr line per problem naming the `RAMPART_*` variable to change, no
traceback, no secret, and nothing written to the data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RAMPART = str(Path(sys.executable).with_name("rampart"))
SECRET = "s.do-not-echo-this-token"


def _run(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env={**clean, "RAMPART_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert SECRET not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("error: RAMPART_") for line in lines), result.stderr
    return lines


BAD = {
    "RAMPART_LOG_LEVEL": "LOUD",
    "RAMPART_KMS": "hsm",
    "RAMPART_VAULT_TOKEN": SECRET,
}
BAD_LINES = [
    "error: RAMPART_LOG_LEVEL='LOUD': unknown log level; allowed: DEBUG, INFO, WARNING, ERROR, "
    "CRITICAL",
    "error: RAMPART_KMS='hsm': input should be 'local' or 'vault'",
]


@pytest.mark.parametrize(
    "argv",
    [
        ("serve",),
        ("init",),
        ("worker",),
        ("db", "current"),
        ("keys", "list"),
    ],
)
def test_bad_settings_are_one_line_each_for_every_command(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    result = _run(RAMPART, *argv, cwd=tmp_path, **BAD)
    assert _refused(result) == BAD_LINES
    assert not (tmp_path / "var").exists()


def test_the_bare_server_process_says_the_same(tmp_path: Path) -> None:
    result = _run(sys.executable, "-m", "server", cwd=tmp_path, **BAD)
    assert _refused(result) == BAD_LINES


def test_a_list_setting_that_is_not_json_says_json_is_expected(tmp_path: Path) -> None:
    result = _run(RAMPART, "serve", cwd=tmp_path, RAMPART_VAULT_DETERMINISTIC_TYPES="email,phone")
    assert _refused(result) == [
        "error: RAMPART_VAULT_DETERMINISTIC_TYPES='email,phone': not valid JSON "
        '(a JSON list is expected, e.g. ["email"])'
    ]


def test_a_worker_without_a_broker_names_the_settings(tmp_path: Path) -> None:
    result = _run(RAMPART, "worker", cwd=tmp_path, RAMPART_JOBS_ENGINE="dramatiq")
    assert _refused(result) == [
        "error: RAMPART_JOBS_ENGINE=dramatiq needs RAMPART_JOBS_BROKER_URL or RAMPART_REDIS_URL"
    ]


PRODUCTION_LINES = [
    "error: RAMPART_DATABASE_URL: SQLite is the one-machine default; production needs "
    "PostgreSQL (postgresql+psycopg://user@host/db)",
    "error: RAMPART_KMS=local keeps the key-encryption key in a file beside the data; "
    "production needs RAMPART_KMS=vault (OpenBao/Vault Transit)",
]


def test_production_serve_refuses_the_insecure_defaults(tmp_path: Path) -> None:
    result = _run(RAMPART, "serve", "--port", "9123", cwd=tmp_path, RAMPART_ENV="production")
    assert _refused(result) == [
        *PRODUCTION_LINES,
        "error: RAMPART_ISSUER=http://127.0.0.1:9123: production needs the public https:// URL "
        "clients reach (logins and tokens must not travel in clear)",
        "error: RAMPART_SCHEDULER is unset: say where jobs are scheduled, `embedded` (inside "
        "this API server) or `off` (in `rampart worker` processes)",
    ]
    assert not (tmp_path / "var").exists(), "nothing may be set up before the refusal"


def test_production_server_process_refuses_them_too(tmp_path: Path) -> None:
    result = _run(
        sys.executable,
        "-m",
        "server",
        cwd=tmp_path,
        RAMPART_ENV="production",
        RAMPART_ISSUER="https://id.shop.example",
        RAMPART_SCHEDULER="embedded",
    )
    assert _refused(result) == PRODUCTION_LINES


def test_production_worker_refuses_the_insecure_defaults(tmp_path: Path) -> None:
    result = _run(
        RAMPART,
        "worker",
        cwd=tmp_path,
        RAMPART_ENV="production",
        RAMPART_ISSUER="https://id.shop.example",
        RAMPART_VAULT_TOKEN=SECRET,
    )
    assert _refused(result) == PRODUCTION_LINES


def test_production_init_does_not_print_a_generated_admin_password(tmp_path: Path) -> None:
    result = _run(RAMPART, "init", cwd=tmp_path, RAMPART_ENV="production")
    assert result.returncode != 0
    assert "admin login" not in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        "error: RAMPART_ADMIN_PASSWORD is unset: production does not print a generated admin "
        "password; set it for the first admin (or run `rampart init` on a terminal)"
    )


def test_production_init_with_a_given_password_goes_on(tmp_path: Path) -> None:
    result = _run(
        RAMPART,
        "init",
        cwd=tmp_path,
        RAMPART_ENV="production",
        RAMPART_ADMIN_PASSWORD="correct horse 42 battery",
    )
    assert result.returncode == 0, result.stderr
    assert "created admin admin@localhost" in result.stdout
