"""The access/portability package (Art. 15(3), 20(1)): a zip with, per system and dataset,
``<connector>/<dataset>.json`` and ``.csv``; ``information.json`` (the Art. 15(1) information per
system and the subject's rights); ``summary.html`` (the same, readable); ``manifest.json`` (every
other member with its SHA-256).

Datasets are streamed in one system at a time and written member by member into a spooled
temporary file; only counts and digests stay in memory. Cells of the CSV that a spreadsheet would
run as a formula are prefixed with ``'``; the summary is rendered with jinja2 autoescape and has
no script."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from compliance.gdpr.connectors.base import ProcessingInfo

_TEMPLATES = Path(__file__).parent / "templates"
MANIFEST = "manifest.json"
INFORMATION = "information.json"
SUMMARY = "summary.html"
FORMAT = "rampart.gdpr.package/1"
# OWASP's list of characters that make a spreadsheet cell a formula (or a DDE call).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SPOOL_LIMIT = 8 * 1024 * 1024

# What every access answer tells the subject besides what each system does (Art. 15(1)(e)-(h)).
RIGHTS: dict[str, str] = {
    "rectification": "You may ask us to correct inaccurate data or complete it (Art. 16).",
    "erasure": "You may ask us to erase your data (Art. 17); data we must keep by law is listed.",
    "restriction": "You may ask us to restrict processing of your data (Art. 18).",
    "objection": "You may object to processing based on legitimate interests or for direct "
    "marketing (Art. 21).",
    "portability": "You may receive the data you gave us in a machine-readable form (Art. 20): "
    "the JSON and CSV files of this package.",
    "withdraw_consent": "Where we rely on your consent you may withdraw it at any time, as "
    "easily as you gave it (Art. 7(3)).",
    "complaint": "You may lodge a complaint with a supervisory authority, in particular in the "
    "member state where you live or work or where an infringement is alleged (Art. 77).",
}
AUTOMATED_DECISION_MAKING = "none"


@dataclass(frozen=True, slots=True)
class SystemPart:
    """What one system answered, without its records (those come through ``datasets``)."""

    connector: str
    status: str
    rows: int
    method: str
    holds: Sequence[Mapping[str, str]] = ()
    info: ProcessingInfo | None = None


@dataclass(slots=True)
class _DatasetCount:
    connector: str
    dataset: str
    records: int
    columns: int


@dataclass(slots=True)
class BuiltPackage:
    content: IO[bytes]  # positioned at 0; the caller closes it
    sha256: str
    files: dict[str, str] = field(default_factory=dict)  # member -> sha256


def info_to_json(info: ProcessingInfo) -> str:
    return json.dumps(
        {
            "purposes": list(info.purposes),
            "categories": list(info.categories),
            "recipients": list(info.recipients),
            "retention": info.retention,
            "source": info.source,
        }
    )


def info_from_json(text: str | None) -> ProcessingInfo | None:
    if not text:
        return None
    data = json.loads(text)
    return ProcessingInfo(
        purposes=tuple(data["purposes"]),
        categories=tuple(data["categories"]),
        recipients=tuple(data["recipients"]),
        retention=data["retention"],
        source=data["source"],
    )


@cache
def _category_names() -> dict[str, str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return {c.fides_key: c.name or c.fides_key for c in DEFAULT_TAXONOMY.data_category}


def category_entry(key: str) -> dict[str, str | None]:
    """A data category with its fideslang name where the key is one of fideslang's."""
    return {"key": key, "name": _category_names().get(key)}


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted columns; lists stay one cell (as JSON)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def safe_cell(value: Any) -> str:
    """The CSV text of ``value``, prefixed with ``'`` when a spreadsheet would evaluate it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_bytes(records: Sequence[Mapping[str, Any]]) -> tuple[bytes, int]:
    """UTF-8 CSV (with BOM, for spreadsheets) of the flattened records; columns in the order
    they first appear, so the same answer always gives the same file."""
    rows = [flatten(r) for r in records]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode(), len(columns)


class _PackageWriter:
    def __init__(self, target: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED)
        self.files: dict[str, str] = {}

    def add(self, name: str, content: bytes) -> None:
        if name in self.files or name == MANIFEST:
            raise ValueError(f"repeated member name: {name!r}")
        with self._zip.open(name, "w", force_zip64=True) as member:
            member.write(content)
        self.files[name] = hashlib.sha256(content).hexdigest()

    def close(self, manifest: bytes) -> None:
        with self._zip.open(MANIFEST, "w") as member:
            member.write(manifest)
        self._zip.close()


def _member_name(part: str) -> str:
    # Connector and dataset names are ours or configured by operators; keep them one path part.
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in part).strip(".")
    return cleaned or "_"


def information(
    systems: Sequence[SystemPart], extra_categories: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """The Art. 15(1) information: per system, then the rights and automated decisions."""
    described = []
    for system in sorted(systems, key=lambda s: s.connector):
        info = system.info
        keys = dict.fromkeys(
            [*(info.categories if info else ()), *extra_categories.get(system.connector, ())]
        )
        described.append(
            {
                "system": system.connector,
                "purposes": list(info.purposes) if info else [],
                "categories": [category_entry(k) for k in keys],
                "recipients": list(info.recipients) if info else [],
                "retention": info.retention if info else None,
                "source": info.source if info else None,
                "legal_holds": [dict(h) for h in system.holds],
            }
        )
    return {
        "systems": described,
        "rights": RIGHTS,
        "automated_decision_making": AUTOMATED_DECISION_MAKING,
    }


def build_package(
    *,
    request_id: UUID,
    request_type: str,
    generated_at: datetime,
    systems: Sequence[SystemPart],
    datasets: Iterable[tuple[str, str, Sequence[Mapping[str, Any]], Sequence[str]]],
) -> BuiltPackage:
    """Write the package. ``datasets`` yields (connector, dataset, records, categories); it is
    consumed once, each dataset written and dropped before the next is asked for."""
    target: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_LIMIT)  # noqa: SIM115
    try:
        writer = _PackageWriter(target)
        counts: list[_DatasetCount] = []
        categories: dict[str, list[str]] = {}
        for connector, dataset, records, dataset_categories in datasets:
            base = f"{_member_name(connector)}/{_member_name(dataset)}"
            writer.add(
                f"{base}.json",
                json.dumps(list(records), indent=2, default=str, ensure_ascii=False).encode(),
            )
            csv_content, columns = _csv_bytes(records)
            writer.add(f"{base}.csv", csv_content)
            counts.append(_DatasetCount(connector, dataset, len(records), columns))
            categories.setdefault(connector, []).extend(dataset_categories)
        info = information(systems, categories)
        writer.add(INFORMATION, json.dumps(info, indent=2, ensure_ascii=False).encode())
        writer.add(
            SUMMARY,
            render_summary(
                request_id=request_id,
                request_type=request_type,
                generated_at=generated_at,
                systems=systems,
                counts=counts,
                info=info,
            ),
        )
        manifest = {
            "format": FORMAT,
            "request_id": str(request_id),
            "type": request_type,
            "generated_at": generated_at.isoformat(),
            "files": [{"name": n, "sha256": d} for n, d in sorted(writer.files.items())],
        }
        writer.close(json.dumps(manifest, indent=2).encode())
        target.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: target.read(1 << 16), b""):
            digest.update(chunk)
        target.seek(0)
        return BuiltPackage(content=target, sha256=digest.hexdigest(), files=writer.files)
    except BaseException:
        target.close()
        raise


def _by_connector(counts: Sequence[_DatasetCount]) -> Iterator[tuple[str, list[_DatasetCount]]]:
    grouped: dict[str, list[_DatasetCount]] = {}
    for count in counts:
        grouped.setdefault(count.connector, []).append(count)
    yield from sorted(grouped.items())


def render_summary(
    *,
    request_id: UUID,
    request_type: str,
    generated_at: datetime,
    systems: Sequence[SystemPart],
    counts: Sequence[_DatasetCount],
    info: Mapping[str, Any],
) -> bytes:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(("html",))
    )
    datasets = dict(_by_connector(counts))
    page = environment.get_template("package_summary.html").render(
        request_id=str(request_id),
        request_type=request_type,
        generated_at=f"{generated_at:%Y-%m-%d %H:%M:%S} UTC",
        systems=sorted(systems, key=lambda s: s.connector),
        datasets=datasets,
        information={s["system"]: s for s in info["systems"]},
        rights=info["rights"],
        automated=info["automated_decision_making"],
    )
    return page.encode()
