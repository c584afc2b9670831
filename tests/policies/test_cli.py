"""`rampart policy lint|test|diff|apply|show|history|rollback` as an operator runs them (real
processes on a migrated database), and the built-in policy's tests as data, like `opa test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.database import unit_of_work
from policies import service
from tests.policies.authz_support import audit_entries

RAMPART = str(Path(sys.executable).with_name("rampart"))
DEFAULTS = Path(service.DEFAULTS_DIR)


def _rampart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPART, "policy", *args],
        env={**os.environ, "RAMPART_LOG_LEVEL": "WARNING", "USER": "ops"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_built_in_policy_lints_clean_and_passes_its_tests() -> None:
    linted = _rampart("lint", str(DEFAULTS / "rampart.yaml"))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 errors, 0 warnings" in linted.stdout
    tested = _rampart("test", "--json")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    results = json.loads(tested.stdout)
    assert len(results) >= 15 and all(r["passed"] for r in results)
    assert {r["actual"] for r in results} == {"allow", "deny"}


def test_a_failing_case_and_a_bad_line_fail_the_commands(tmp_path: Path) -> None:
    policy = tmp_path / "shop.csv"
    policy.write_text(
        "p, role:clerk, shop, orders/:id, read, allow,\n"
        "p, role:clerk, shop, vault:pan, read, allow,\n"  # ':' inside a segment: a parameter
        "p, role:clerk, shop, orders, read, allow, zone=office\n"  # no such zone
        "p, role:clerk, shop, orders, read, perhaps,\n"
    )
    linted = _rampart("lint", str(policy))
    assert linted.returncode == 1
    assert f"{policy}:4: error: effect must be allow or deny" in linted.stdout
    assert f"{policy}:3: error: condition names unknown zone 'office'" in linted.stdout
    assert f"{policy}:2: warning: object 'vault:pan'" in linted.stdout

    policy.write_text("p, role:clerk, shop, orders/:id, read, allow,\n")
    cases = tmp_path / "shop_test.yaml"
    cases.write_text(
        "policy: shop.csv\n"
        "given: ['g, user:ann, role:clerk, shop']\n"
        "defaults: {subject: 'user:ann', domain: shop, object: orders/7, expect: allow}\n"
        "cases:\n"
        "  - {name: ann reads, action: read}\n"
        "  - {name: ann writes, action: write}\n"
    )
    tested = _rampart("test", str(tmp_path))
    assert tested.returncode == 1
    assert "FAIL" in tested.stdout and "ann writes: expected allow, got deny" in tested.stdout
    assert "1 passed, 1 failed" in tested.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_apply_diff_show_history_rollback(engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "v1.yaml"
    first.write_text(
        "zones: {office: [192.168.0.0/16]}\n"
        "policy:\n"
        "  - p, role:clerk, shop, orders/:id, read, allow, zone=office\n"
        "  - g, user:ann, role:clerk, shop\n"
    )
    applied = _rampart("apply", str(first), "--reason", "clerks", "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout) == {
        "changed": True,
        "version": 1,
        "lines_added": 3,
        "lines_removed": 0,
    }
    again = _rampart("apply", str(first), "-m", "same", "--json")
    assert json.loads(again.stdout) == {"changed": False, "version": 1}

    second = tmp_path / "v2.csv"
    second.write_text(
        "p, role:clerk, shop, orders/:id, read|write, allow,\ng, user:ann, role:clerk, shop\n"
    )
    diffed = _rampart("diff", str(second), "--json")
    assert json.loads(diffed.stdout) == {
        "version": 1,
        "added": ["p, role:clerk, shop, orders/:id, read|write, allow,"],
        "removed": [
            "zone, office, 192.168.0.0/16",
            "p, role:clerk, shop, orders/:id, read, allow, zone=office",
        ],
    }
    assert _rampart("apply", str(second), "-m", "clerks write").returncode == 0

    history = json.loads(_rampart("history", "--json").stdout)
    assert [(v["version"], v["actor"], v["reason"]) for v in history] == [
        (2, "cli:ops", "clerks write"),
        (1, "cli:ops", "clerks"),
    ]
    rolled = _rampart("rollback", "1", "--reason", "too broad", "--json")
    assert json.loads(rolled.stdout)["version"] == 3
    shown = json.loads(_rampart("show", "--json").stdout)
    assert shown["version"] == 3 and sorted(shown["lines"]) == sorted(
        json.loads(_rampart("show", "--version", "1", "--json").stdout)["lines"]
    )
    assert "office:" in _rampart("show", "--yaml").stdout

    missing = _rampart("rollback", "9", "-m", "nope")
    assert missing.returncode == 1 and "policy version 9 does not exist" in missing.stderr
    with unit_of_work(read_only=True) as db:
        assert [e.actor for e in audit_entries(db, "policy.changed")] == ["cli:ops", "cli:ops"]
        assert len(audit_entries(db, "policy.rolled_back")) == 1
