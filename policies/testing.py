"""Policy tests as data (like ``opa test``): YAML files of allow/deny cases run against policy
files, by ``rampart policy test`` and in CI. A case names who, what and the request context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from policies.document import canonical_lines, load_policy_files
from policies.enforcer import PolicyInvalid
from policies.exceptions import PolicyFileInvalid
from policies.runtime import PolicyRuntime

TEST_FILE_SUFFIX = "_test.yaml"
_CASE_KEYS = {"name", "subject", "roles", "domain", "object", "action", "context", "expect", "at"}
_CONTEXT_KEYS = {"amr", "auth_age", "ip", "client"}


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    name: str
    expected: str
    actual: str
    rule: str | None
    policy_version: int

    @property
    def passed(self) -> bool:
        return self.expected == self.actual


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """Files named ``*_test.yaml``; directories are searched recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*" + TEST_FILE_SUFFIX)))
        else:
            found.append(path)
    return found


def run_test_file(path: Path, policy_lines: Sequence[str] | None = None) -> list[CaseResult]:
    """Every case of one file, against ``policy_lines`` when given (e.g. the stored policy),
    else the policy files the test file names (relative to itself), plus its ``given`` lines."""
    spec = _read(path)
    if policy_lines is None:
        files = spec.get("policy") or []
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not files:
            raise PolicyFileInvalid(f"{path}: 'policy' names the policy files under test")
        policy_lines = load_policy_files([path.parent / str(name) for name in files]).lines
    given = spec.get("given") or []
    if not isinstance(given, list) or not all(isinstance(line, str) for line in given):
        raise PolicyFileInvalid(f"{path}: 'given' is a list of policy lines")
    try:
        lines = canonical_lines([*policy_lines, *given])
    except PolicyInvalid as exc:
        raise PolicyInvalid(f"{path}: {exc.detail}") from exc
    engine = PolicyRuntime()
    engine.load(1, lines)
    defaults = spec.get("defaults") or {}
    cases = spec.get("cases")
    if not isinstance(cases, list) or not cases:
        raise PolicyFileInvalid(f"{path}: 'cases' is a non-empty list")
    return [
        _run_case(engine, path, {**defaults, **case}, index) for index, case in enumerate(cases)
    ]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyFileInvalid(f"{path}: cannot be read as YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise PolicyFileInvalid(f"{path}: a policy test file is a mapping")
    return data


def _run_case(engine: PolicyRuntime, path: Path, case: Any, index: int) -> CaseResult:
    where = f"{path}: case {index + 1}"
    if not isinstance(case, dict):
        raise PolicyFileInvalid(f"{where}: a case is a mapping")
    unknown = set(case) - _CASE_KEYS
    if unknown:
        raise PolicyFileInvalid(f"{where}: unknown keys {sorted(unknown)}")
    try:
        subject, obj, action = str(case["subject"]), str(case["object"]), str(case["action"])
    except KeyError as exc:
        raise PolicyFileInvalid(f"{where}: missing {exc.args[0]!r}") from exc
    expected = str(case.get("expect", ""))
    if expected not in ("allow", "deny"):
        raise PolicyFileInvalid(f"{where}: 'expect' is allow or deny")
    roles = [f"role:{role}" for role in case.get("roles") or []]
    at = _moment(case.get("at"), where)
    context = case.get("context") or {}
    if not isinstance(context, dict) or set(context) - _CONTEXT_KEYS:
        raise PolicyFileInvalid(f"{where}: 'context' keys are {sorted(_CONTEXT_KEYS)}")
    auth_age = context.get("auth_age")
    with engine.view() as view:
        ctx = view.context(
            now=at,
            amr=[str(method) for method in context.get("amr") or []],
            auth_time=at - timedelta(seconds=float(auth_age)) if auth_age is not None else None,
            ip=str(context["ip"]) if context.get("ip") is not None else None,
            client_id=str(context["client"]) if context.get("client") is not None else None,
        )
        decision = view.decide(
            [subject, *roles], str(case.get("domain", "rampart")), obj, action, ctx
        )
    return CaseResult(
        file=str(path),
        name=str(case.get("name") or f"case {index + 1}"),
        expected=expected,
        actual="allow" if decision.allowed else "deny",
        rule=decision.rule_line,
        policy_version=decision.policy_version,
    )


def _moment(value: Any, where: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise PolicyFileInvalid(f"{where}: 'at' is an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
