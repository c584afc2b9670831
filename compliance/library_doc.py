"""Renders the control reference (docs/compliance-controls.md) from the control library and the
check registry, so the page cannot drift from what the engine runs."""

from __future__ import annotations

from compliance.checks import load_all
from compliance.checks.base import REGISTRY
from compliance.controls import ControlLibrary, default_library

HEADER = """# Compliance controls and checks

Generated from `compliance/library/*.yaml` and the check registry (`compliance/checks/`) by
`uv run python -m compliance.library_doc > docs/compliance-controls.md`; a test fails when the two
disagree. Frequencies are ISO 8601 durations: evidence older than that makes the control failing.
A control with checks is evidenced by their results; one with a manual slot also needs an upload.
A remediation is proposed when the control is failing: `auto` runs at once, `approval` waits for
`rampart compliance remediations approve` (docs/compliance.md).

How the checks behave:

- **Probes** talk to the live server over HTTP (`base_url`). Those that need an identity create a
  canary (`canary-<random>@canary.rampart.invalid`, or a client `canary-<random>` with the policy
  lines it needs) and remove it in a `finally`: the account or client is deleted and the policy
  is set back to its previous lines (a new policy version, audited like any change). The lockout
  probe sends 10 wrong passwords for its own canary only; they also count towards the per-source
  throttle of the checker's address (`RAMPART_LOGIN_THROTTLE_FAILURES`, default 50 per 15 min).
- **TLS** (`tls.endpoint_protocols_probe`): the endpoints of `RAMPART_COMPLIANCE_TLS_ENDPOINTS`
  (JSON list of `host:port`), else the issuer when it is https. With neither, the check *fails*
  rather than answering "not applicable": PAN and credentials would cross the network in clear
  unless TLS is terminated somewhere, and that endpoint must then be registered.
- **Payment pages** (`web.*`): `RAMPART_COMPLIANCE_PAYMENT_PAGES`, else Rampart's login page.
- **Card-number scan** (`data.card_number_scan`): every text column of Rampart's database except
  the vault's ciphertexts, `*.log` under the data directory, plus
  `RAMPART_COMPLIANCE_PAN_SCAN_DATABASES` / `_COLUMNS` / `_LOGS`. Findings name the place and a
  first-6/last-4 mask only.
- **Records of processing** (`gdpr.records_of_processing`): the YAML file named by
  `RAMPART_COMPLIANCE_PROCESSING_RECORDS` (`activities:` with name, purpose, legal_basis,
  data_categories as Fideslang keys, data_subjects, retention).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _controls_table(library: ControlLibrary, framework_id: str) -> list[str]:
    framework = library.frameworks[framework_id]
    lines = [
        f"## {framework.name} {framework.version} "
        f"(`{framework.id}`, {len(framework.controls)} controls)",
        "",
        "| control | title | owner | frequency | automated checks | manual evidence "
        "| remediation |",
        "|---|---|---|---|---|---|---|",
    ]
    for control in framework.controls:
        checks = "<br>".join(f"`{check_id}`" for check_id in control.checks) or "—"
        manual = _cell(control.manual.description) if control.manual else "—"
        fix = control.remediation
        remediation = f"`{fix.action}` ({fix.mode})" if fix else "—"
        lines.append(
            f"| {control.id} | {_cell(control.title)} | {control.owner_role} | {control.frequency} "
            f"| {checks} | {manual} | {remediation} |"
        )
    return lines


def _checks_table() -> list[str]:
    probes = sum(1 for item in REGISTRY.values() if item.kind == "probe")
    lines = [
        f"## Automated checks ({len(REGISTRY)}, of which {probes} probe the live system)",
        "",
        "`probe`: exercises live behaviour (a real login, handshake, API call with a canary "
        "that is removed afterwards); `read`: inspects stored configuration or state.",
        "",
        "| check | kind | title | controls |",
        "|---|---|---|---|",
    ]
    for item in sorted(REGISTRY.values(), key=lambda registered: registered.id):
        controls = ", ".join(item.controls)
        lines.append(f"| `{item.id}` | {item.kind} | {_cell(item.title)} | {controls} |")
    return lines


def render(library: ControlLibrary | None = None) -> str:
    load_all()
    library = library or default_library()
    lines = [HEADER]
    for framework_id in sorted(library.frameworks, reverse=True):  # PCI DSS first, then GDPR
        lines += [*_controls_table(library, framework_id), ""]
    lines += _checks_table()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
