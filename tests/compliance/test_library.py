"""The control library as shipped: its size, the articles and requirements it must hold, the
frequencies the standards name, and agreement both ways with the check registry and the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance import library_doc
from compliance.checks import load_all
from compliance.checks.base import REGISTRY
from compliance.controls import LIBRARY_DIR, ControlLibrary, ControlLibraryInvalid, load_library

DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance-controls.md"
PCI, GDPR = "pci-dss-4.0.1", "gdpr"
REQUIRED_PCI = (
    "3.2.1",
    "3.3.1",
    "3.4.1",
    "3.5.1",
    "3.6.1",
    "3.7.1",
    "3.7.2",
    "3.7.3",
    "3.7.4",
    "3.7.5",
    "4.2.1",
    "6.2.4",
    "6.3.1",
    "6.3.3",
    "6.4.1",
    "6.4.2",
    "6.4.3",
    "7.2.1",
    "7.2.2",
    "7.2.3",
    "7.2.4",
    "7.2.5",
    "7.2.6",
    "8.2.1",
    "8.2.2",
    "8.2.3",
    "8.2.4",
    "8.2.5",
    "8.2.6",
    "8.2.7",
    "8.2.8",
    "8.3.1",
    "8.3.2",
    "8.3.3",
    "8.3.4",
    "8.3.5",
    "8.3.6",
    "8.3.7",
    "8.3.8",
    "8.3.9",
    "8.3.10",
    "8.3.11",
    "8.4.1",
    "8.4.2",
    "8.4.3",
    "8.6.1",
    "8.6.2",
    "8.6.3",
    "10.2.1",
    "10.2.1.1",
    "10.2.1.2",
    "10.2.1.3",
    "10.2.1.4",
    "10.2.1.5",
    "10.2.1.6",
    "10.2.1.7",
    "10.2.2",
    "10.3.1",
    "10.3.2",
    "10.3.3",
    "10.3.4",
    "10.4.1",
    "10.5.1",
    "10.6.1",
    "10.7.2",
    "11.3.1",
    "11.3.2",
    "11.4.1",
    "11.6.1",
    "12.3.1",
    "12.10.1",
    "12.10.2",
)
GDPR_ARTICLES = ("5", "6", "7", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22",
                 "25", "30", "32", "33", "35")  # fmt: skip


@pytest.fixture(scope="module")
def library() -> ControlLibrary:
    load_all()
    return load_library()


def test_the_library_holds_the_required_pci_requirements_and_gdpr_articles(
    library: ControlLibrary,
) -> None:
    pci = {control.id: control for _, control in library.controls(PCI)}
    assert len(pci) >= 60
    assert [wanted for wanted in REQUIRED_PCI if wanted not in pci] == []
    assert all(c.reference == f"PCI DSS v4.0.1 Requirement {c.id}" for c in pci.values())
    articles = {
        control.id.removeprefix("art-").split(".")[0] for _, control in library.controls(GDPR)
    }
    assert [article for article in GDPR_ARTICLES if article not in articles] == []
    gdpr = {control.id for _, control in library.controls(GDPR)}
    assert {"art-5.1.e", "art-12.3", "art-32", "art-33"} <= gdpr


def test_frequencies_are_those_the_standard_names(library: ControlLibrary) -> None:
    frequency = {control.id: control.frequency for _, control in library.controls(PCI)}
    assert frequency["11.3.1"] == frequency["11.3.2"] == "P3M"
    assert frequency["7.2.4"] == "P6M"
    assert frequency["12.10.2"] == frequency["12.3.1"] == "P1Y"
    assert frequency["11.6.1"] == "P1W"  # at least once every seven days
    assert frequency["8.3.4"] == frequency["10.2.2"] == "P1D"  # automated, checked daily


def test_there_are_at_least_40_checks_and_12_probes() -> None:
    load_all()
    assert len(REGISTRY) >= 40
    assert sum(1 for item in REGISTRY.values() if item.kind == "probe") >= 12


def test_library_and_registry_agree_both_ways(library: ControlLibrary) -> None:
    named_by_controls = {
        (framework.qualified(control), check_id)
        for framework, control in library.controls()
        for check_id in control.checks
    }
    named_by_checks = {
        (qualified, item.id) for item in REGISTRY.values() for qualified in item.controls
    }
    assert sorted(check for _, check in named_by_controls if check not in REGISTRY) == []
    assert sorted(item for item in REGISTRY if item not in {c for _, c in named_by_controls}) == []
    assert named_by_controls == named_by_checks


def test_the_controls_page_is_generated_from_the_library() -> None:
    assert DOC.read_text() == library_doc.render(), (
        "docs/compliance-controls.md is stale: run "
        "`uv run python -m compliance.library_doc > docs/compliance-controls.md`"
    )


def _library_dir(tmp_path: Path, gdpr_text: str) -> Path:
    directory = tmp_path / "library"
    directory.mkdir()
    shipped = LIBRARY_DIR
    (directory / "pci-dss-4.0.1.yaml").write_text((shipped / "pci-dss-4.0.1.yaml").read_text())
    (directory / "gdpr.yaml").write_text(gdpr_text)
    return directory


def test_a_bad_field_names_the_file_line_and_field_and_nothing_loads(tmp_path: Path) -> None:
    shipped = LIBRARY_DIR / "gdpr.yaml"
    lines = shipped.read_text().splitlines(keepends=True)
    # The third control's owner role becomes one the schema does not know.
    owner_lines = [n for n, line in enumerate(lines) if line.startswith("  owner_role:")]
    target = owner_lines[2]
    lines[target] = "  owner_role: janitor\n"
    directory = _library_dir(tmp_path, "".join(lines))

    with pytest.raises(ControlLibraryInvalid) as raised:
        load_library(directory)

    message = str(raised.value)
    assert message.startswith(f"{directory / 'gdpr.yaml'}:{target + 1}: controls[2].owner_role")
    assert "(control art-5.1.c)" in message


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    directory = _library_dir(tmp_path, "id: gdpr\ncontrols:\n- id: [unclosed\n")

    with pytest.raises(ControlLibraryInvalid, match=r"gdpr\.yaml:\d+: not valid YAML"):
        load_library(directory)
