"""`rampart review`: start a scoped review, decide every item (one revoked), sign-off refused
until then (one stderr line, exit 1), `--json` everywhere."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import app
from compliance.controls import ControlLibrary
from tests.compliance.test_reviews import _allowed, real_library, shop

__all__ = ["real_library", "shop"]  # fixtures used by name
runner = CliRunner()


def test_start_decide_and_sign_off_from_the_cli(
    shop: dict[str, str], real_library: ControlLibrary
) -> None:
    started = runner.invoke(
        app, ["review", "start", "--object", "vault/pan", "--action", "detokenize", "--json"]
    )
    assert started.exit_code == 0, started.stderr
    body = json.loads(started.stdout)
    review_id = body["review"]["id"]
    by_subject = {item["subject"]: item["position"] for item in body["items"]}
    assert set(by_subject) == {"client:checkout", "client:crm", shop["clerk"], shop["linked"]}
    refused = runner.invoke(app, ["review", "sign-off", review_id])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: 4 of 4 items are not decided")
    assert refused.stderr.count("\n") == 1
    for subject, position in by_subject.items():
        decision = "revoke" if subject == "client:crm" else "keep"
        decided = runner.invoke(
            app, ["review", "decide", review_id, str(position), decision, "-m", "reviewed"]
        )
        assert decided.exit_code == 0, decided.stderr
    assert not _allowed("client:crm") and _allowed("client:checkout")
    signed = runner.invoke(app, ["review", "sign-off", review_id, "--json"])
    assert signed.exit_code == 0, signed.stderr
    assert json.loads(signed.stdout)["review_id"] == review_id
    listed = json.loads(runner.invoke(app, ["review", "list", "--json"]).stdout)
    assert [(r["id"], r["status"], r["undecided"]) for r in listed["reviews"]] == [
        (review_id, "signed-off", 0)
    ]
    verified = runner.invoke(app, ["compliance", "verify"])
    assert verified.exit_code == 0, verified.stdout + verified.stderr
