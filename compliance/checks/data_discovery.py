"""Card-number discovery (PCI DSS 3.5.1, 3.2.1, 12.5.2): a Luhn scan of every text column of
Rampart's database (the vault's ciphertexts excepted), its log files, and the databases, columns
and logs an operator registers. Findings carry where and a first6/last4 mask, never the number."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import MetaData, String, Text, create_engine, select
from sqlalchemy.engine import Connection

from compliance.checks.base import CheckContext, CheckResult, check
from core.sensitive import without_ids

# 13-19 digits, optionally grouped by single spaces or dashes, not inside a longer run of digits
# or of hex: a SHA-256 in hex (evidence digests, ledger hashes, their copies in audit details)
# holds a Luhn-valid run of 13+ digits about once in a hundred; a card number is never glued to
# the letters a-f. Canonical UUIDs are ids, never card numbers (core.sensitive blanks them too).
_CANDIDATE = re.compile(r"(?<![0-9a-fA-F])(?:\d[ -]?){12,18}\d(?![0-9a-fA-F])")
SKIPPED_COLUMNS = {("vault_tokens", "ciphertext"), ("data_keys", "wrapped")}
MAX_FINDINGS = 50
ROWS_PER_COLUMN = 100_000
MAX_LOG_BYTES = 50 * 1024 * 1024


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_numbers(text: str) -> Iterator[str]:
    """Masked (first 6, last 4) card-number candidates in ``text`` that pass the Luhn check."""
    for match in _CANDIDATE.finditer(without_ids(text)):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            yield f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def _scan_database(
    connection: Connection, label: str, columns: set[str] | None, findings: list[dict[str, str]]
) -> int:
    metadata = MetaData()
    metadata.reflect(connection)
    scanned = 0
    for table in metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text):
                continue
            name = f"{table.name}.{column.name}"
            if (table.name, column.name) in SKIPPED_COLUMNS or (columns and name not in columns):
                continue
            scanned += 1
            query = select(column).where(column.is_not(None)).limit(ROWS_PER_COLUMN)
            for (value,) in connection.execute(query):
                for masked in card_numbers(str(value)):
                    findings.append({"where": f"{label}:{name}", "masked": masked})
    return scanned


def _log_files(ctx: CheckContext) -> list[Path]:
    patterns = [str(ctx.settings.data_dir / "**" / "*.log"), *ctx.settings.compliance_pan_scan_logs]
    return sorted({Path(p) for pattern in patterns for p in glob.glob(pattern, recursive=True)})


@check(
    "data.card_number_scan",
    title="No card number outside the vault: database text columns and log files scanned",
    controls=[
        "pci-dss-4.0.1:3.5.1",
        "pci-dss-4.0.1:3.2.1",
        "pci-dss-4.0.1:12.5.2",
        "pci-dss-4.0.1:12.10.7",
    ],
    kind="probe",
    timeout_seconds=300,
)
def card_number_scan(ctx: CheckContext) -> CheckResult:
    findings: list[dict[str, str]] = []
    columns = _scan_database(ctx.session.connection(), "rampart", None, findings)
    wanted = set(ctx.settings.compliance_pan_scan_columns) or None
    for index, url in enumerate(ctx.settings.compliance_pan_scan_databases):
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                columns += _scan_database(connection, f"database[{index}]", wanted, findings)
        finally:
            engine.dispose()
    logs = _log_files(ctx)
    for path in logs:
        read = 0
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                read += len(line)
                if read > MAX_LOG_BYTES:
                    break
                for masked in card_numbers(line):
                    findings.append({"where": f"{path}:{number}", "masked": masked})
    return CheckResult.judge(
        not findings,
        {
            "columns_scanned": columns,
            "log_files_scanned": len(logs),
            "findings": findings[:MAX_FINDINGS],
            "finding_count": len(findings),
        },
        {"finding_count": 0},
    )
