"""`rampart apply` with a ``consent_purposes:`` section: plan, create, unchanged the second time,
a changed notice is a new version, fideslang keys and categories are validated before writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from compliance.gdpr import consent
from core.database import unit_of_work
from core.settings import Settings

runner = CliRunner()

DOCUMENT = """\
version: 1
consent_purposes:
  - key: personalize
    name: Recommendations
    description: We suggest products from what you viewed.
    data_categories: [user.behavior.browsing_history, user.behavior.purchase_history]
    notice_version: "2026-12"
  - key: marketing.communications.email
    data_categories: [user.contact.email]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rampart.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _apply(path: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["apply", "-f", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _purposes() -> dict[str, consent.Purpose]:
    with unit_of_work(read_only=True) as db:
        return {p.key: p for p in consent.consent_purposes(db)}


def test_plan_create_then_unchanged(settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path, DOCUMENT)
    planned = _apply(path, "--dry-run")
    assert planned["created"] == [
        "consent_purpose:personalize",
        "consent_purpose:marketing.communications.email",
    ]
    assert _purposes() == {}  # a dry run writes nothing
    assert _apply(path)["created"] == planned["created"]
    stored = _purposes()
    assert stored["personalize"].name == "Recommendations"
    assert stored["personalize"].notice_version == "2026-12"
    assert stored["personalize"].categories == (
        "user.behavior.browsing_history",
        "user.behavior.purchase_history",
    )
    # Name and notice left out: fideslang's name, version 1.
    assert stored["marketing.communications.email"].notice_version == "1"
    assert stored["marketing.communications.email"].name
    second = _apply(path)
    assert second["created"] == [] and second["updated"] == []
    assert len(second["unchanged"]) == 2


def test_a_changed_notice_needs_a_new_version(settings: Settings, tmp_path: Path) -> None:
    _apply(_write(tmp_path, DOCUMENT))
    changed = DOCUMENT.replace("from what you viewed", "from what you bought")
    result = runner.invoke(app, ["apply", "-f", str(_write(tmp_path, changed)), "--json"])
    assert result.exit_code != 0 and "notice_version" in result.stderr
    assert _purposes()["personalize"].description.endswith("what you viewed.")
    bumped = changed.replace('"2026-12"', '"2026-12b"')
    outcome = _apply(_write(tmp_path, bumped), "--dry-run")
    assert outcome["updated"] == ["consent_purpose:personalize"]
    _apply(_write(tmp_path, bumped))
    assert _purposes()["personalize"].notice_version == "2026-12b"


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("key: personalize", "key: mind.reading", "consent_purposes[0].key"),
        ("purchase_history]", "shoe_size]", "consent_purposes[0].data_categories"),
        ("    notice_version", "    colour: red\n    notice_version", "consent_purposes[0]"),
    ],
)
def test_bad_purposes_are_refused_before_any_write(
    settings: Settings, tmp_path: Path, old: str, new: str, where: str
) -> None:
    result = runner.invoke(
        app, ["apply", "-f", str(_write(tmp_path, DOCUMENT.replace(old, new, 1))), "--json"]
    )
    assert result.exit_code != 0 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and where in lines[0]
    assert _purposes() == {}
