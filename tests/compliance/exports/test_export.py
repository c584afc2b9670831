"""Evidence exports: a signed zip that `rampart evidence verify`, `sha256sum -c` and `openssl`
accept, that any changed byte breaks, and that shows a period as it stood on a past date."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from compliance.checks.base import CheckResult, RegisteredCheck
from compliance.controls import ControlLibrary
from compliance.engine import EngineDeps, run
from compliance.exports.contents import Period
from compliance.exports.service import ensure_segment_signed, export_evidence, resolve_period
from compliance.exports.verify import verify_export
from core.clock import utcnow
from core.database import unit_of_work
from core.errors import ValidationFailed
from tests.compliance.conftest import Register
from tests.fixtures.openssl import openssl_verify

pytestmark = pytest.mark.usefixtures("settings")


def _export(deps: EngineDeps, library: ControlLibrary, period: Period, output: Path) -> Path:
    with unit_of_work(deps.sessions) as session:
        ensure_segment_signed(session, deps.signer, period)
    with unit_of_work(deps.read_sessions, read_only=True) as session:
        export_evidence(
            session,
            framework_id="test-fw",
            period=period,
            output=output,
            signer=deps.signer,
            generator_version="test",
            library=library,
        )
    return output


def _last_day() -> Period:
    now = utcnow()
    return resolve_period(now - timedelta(days=1), now + timedelta(hours=1), None)


@pytest.fixture
def exported(
    deps: EngineDeps,
    library: ControlLibrary,
    standard_checks: dict[str, RegisteredCheck],
    tmp_path: Path,
) -> Path:
    run(deps, library, checks=list(standard_checks.values()))
    return _export(deps, library, _last_day(), tmp_path / "export.zip")


def _unzip(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(into)
    return into


def _standard_tools(directory: Path) -> tuple[int, int]:
    sums = subprocess.run(
        [shutil.which("sha256sum") or "sha256sum", "--quiet", "-c", "SHA256SUMS"],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    signature = openssl_verify(directory, "SHA256SUMS", "SHA256SUMS.sig")
    return sums.returncode, signature.returncode


def test_the_export_holds_every_member_the_auditor_needs(exported: Path) -> None:
    with zipfile.ZipFile(exported) as opened:
        names = set(opened.namelist())
        manifest = orjson.loads(opened.read("manifest.json"))
        records = orjson.loads(opened.read("evidence/records.json"))
        oscal = orjson.loads(opened.read("oscal/assessment-results.json"))
        pdf = opened.read("report/report.pdf")
        controls = opened.read("controls.csv").decode()
    assert {
        "SHA256SUMS",
        "SHA256SUMS.sig",
        "public-key.pem",
        "manifest.json",
        "controls.csv",
        "findings.csv",
        "evidence/records.json",
        "audit/ledger.jsonl",
        "audit/checkpoints.json",
        "report/report.html",
        "report/report.pdf",
        "oscal/assessment-results.json",
    } <= names
    assert manifest["framework"]["id"] == "test-fw"
    assert manifest["counts"]["evidence_records"] == len(records) == 2
    assert manifest["counts"]["controls_by_status"]["failing"] >= 1
    assert pdf.startswith(b"%PDF-")
    assert "test-fw:1.2,Failing control,Test 1.2,failing" in controls
    [result] = oscal["assessment-results"]["results"]
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["test-fw_1.1_obj"] == "satisfied"
    assert states["test-fw_1.2_obj"] == "not-satisfied"


def test_rampart_and_the_standard_tools_accept_an_untouched_export(
    exported: Path, deps: EngineDeps, tmp_path: Path
) -> None:
    result = verify_export(exported, [deps.signer.public_signing_key()])
    assert result.problems == []
    assert result.trusted
    assert result.evidence_records == 2
    assert result.ledger_entries >= 2 and result.checkpoints >= 1
    assert _standard_tools(_unzip(exported, tmp_path / "out")) == (0, 0)


def test_a_changed_byte_in_a_member_fails_sha256sum_and_rampart(
    exported: Path, tmp_path: Path
) -> None:
    directory = _unzip(exported, tmp_path / "out")
    csv = directory / "controls.csv"
    csv.write_bytes(csv.read_bytes().replace(b"failing", b"pass\x00\x00\x00", 1))
    sums, signature = _standard_tools(directory)
    assert sums != 0 and signature == 0
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(exported) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, csv.read_bytes() if info.filename == "controls.csv" else data)
    assert (
        "controls.csv does not match its SHA-256 in SHA256SUMS" in verify_export(tampered).problems
    )


def test_a_changed_sums_file_fails_openssl_and_rampart(exported: Path, tmp_path: Path) -> None:
    directory = _unzip(exported, tmp_path / "out")
    sums_file = directory / "SHA256SUMS"
    lines = sums_file.read_bytes().splitlines(keepends=True)
    sums_file.write_bytes(b"".join(line for line in lines if b"findings.csv" not in line))
    assert _standard_tools(directory)[1] != 0
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(exported) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = sums_file.read_bytes() if info.filename == "SHA256SUMS" else source.read(info)
            target.writestr(info, data)
    problems = verify_export(tampered).problems
    assert "SHA256SUMS.sig is not a valid signature of SHA256SUMS" in problems
    assert "findings.csv is in the zip but not in SHA256SUMS" in problems


def test_an_export_signed_by_another_key_is_not_trusted(exported: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    stranger = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    result = verify_export(exported, [stranger])
    assert not result.trusted


def test_as_of_rebuilds_the_posture_from_what_was_recorded_by_then(
    deps: EngineDeps, library: ControlLibrary, register: Register, tmp_path: Path
) -> None:
    verdict = {"pass": False}
    check = register(
        "tests.fails",
        lambda ctx: CheckResult.judge(verdict["pass"], {"mfa": verdict["pass"]}, {"mfa": True}),
        ("test-fw:1.2",),
    )
    run(deps, library, checks=[check])
    between = utcnow()
    verdict["pass"] = True
    run(deps, library, checks=[check])
    start, end = between - timedelta(days=1), between + timedelta(days=1)

    def status_of_1_2(as_of: Period) -> tuple[str, int]:
        path = _export(deps, library, as_of, tmp_path / f"{as_of.as_of.timestamp()}.zip")
        with zipfile.ZipFile(path) as opened:
            rows = opened.read("controls.csv").decode().splitlines()
            count = len(orjson.loads(opened.read("evidence/records.json")))
        [row] = [r for r in rows if r.startswith("test-fw:1.2,")]
        return row.split(",")[3], count

    assert status_of_1_2(resolve_period(start, end, between)) == ("failing", 1)
    assert status_of_1_2(resolve_period(start, end, None)) == ("pass", 2)


def test_periods_that_cannot_be_exported_are_refused() -> None:
    now = utcnow()
    with pytest.raises(ValidationFailed, match="before"):
        resolve_period(now, now - timedelta(days=1), None)
    with pytest.raises(ValidationFailed, match="future"):
        resolve_period(now - timedelta(days=2), now + timedelta(days=2), now + timedelta(days=1))


def test_the_cli_verifies_against_the_trusted_key_and_names_each_problem(
    exported: Path, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    key = runner.invoke(app, ["evidence", "key"])
    assert key.exit_code == 0 and key.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    trusted = tmp_path / "trusted.pem"
    trusted.write_text(key.stdout)
    good = runner.invoke(
        app, ["evidence", "verify", str(exported), "--trust-key", str(trusted), "--json"]
    )
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["key_trusted"] is True
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(exported) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data + b" " if info.filename == "findings.csv" else data)
    bad = runner.invoke(app, ["evidence", "verify", str(tampered), "--trust-key", str(trusted)])
    assert bad.exit_code == 1
    assert "findings.csv does not match its SHA-256" in bad.output


def test_a_gdpr_export_summarises_requests_as_they_stood_without_personal_data(
    deps: EngineDeps, tmp_path: Path
) -> None:
    from compliance.controls import default_library
    from compliance.gdpr import service
    from compliance.gdpr.connectors.base import SubjectRef

    with unit_of_work(deps.sessions) as session:
        request_id = service.file_request(
            session,
            type="erasure",
            subject=SubjectRef("cust-77", "ada@shop.example"),
            channel="portal",
            actor="subject:cust-77",
            identity_verified=True,
        ).id
    between = utcnow()
    with unit_of_work(deps.sessions) as session:
        service.withdraw_request(session, request_id, subject="cust-77", actor="subject:cust-77")
    start, end = between - timedelta(days=1), between + timedelta(days=1)

    def summary(period: Period) -> list[str]:
        path = tmp_path / f"gdpr-{period.as_of.timestamp()}.zip"
        with unit_of_work(deps.sessions) as session:
            ensure_segment_signed(session, deps.signer, period)
        with unit_of_work(deps.read_sessions, read_only=True) as session:
            export_evidence(
                session,
                framework_id="gdpr",
                period=period,
                output=path,
                signer=deps.signer,
                generator_version="test",
                library=default_library(),
            )
        assert verify_export(path).problems == []
        with zipfile.ZipFile(path) as opened:
            text = opened.read("gdpr/requests.csv").decode()
            assert orjson.loads(opened.read("manifest.json"))["counts"]["gdpr_requests"] == 1
        assert "ada@shop.example" not in text and "cust-77" not in text
        [row] = text.splitlines()[1:]
        return row.split(",")

    then = summary(resolve_period(start, end, between))
    assert then[0] == str(request_id) and then[1] == "erasure" and then[3] == "verified"
    assert summary(resolve_period(start, end, None))[3] == "withdrawn"
