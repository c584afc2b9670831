"""Every relative link in the documentation leads somewhere: markdown links and reference
definitions in docs/*.md, README.md and sdk/README.md must name a file or directory of this
repository (nothing outside it) and, with `#anchor`, a heading of the target page. Paths
quoted as code (`core/audit/signing.py`, `../x.md`) must exist too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "sdk" / "README.md"])

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# [text](target "title") — the text may span lines; images (![...]) are links too.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A quoted repository path: starts with a top-level directory (or ../) and has a file name.
QUOTED_PATH = re.compile(r"^(\.\./|\./)?([\w.-]+)/[\w./-]*\.(md|py|yaml|yml|toml|json|csv)$")


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(_prose(page.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_targets(page: Path) -> Iterator[str]:
    prose = _prose(page.read_text(encoding="utf-8"))
    without_code = INLINE_CODE.sub("", prose)
    for target in [*LINK.findall(without_code), *REFERENCE.findall(without_code)]:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto: ... are not files of the repository
        yield target


def quoted_paths(page: Path, root: Path) -> Iterator[str]:
    top_level = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    for code in INLINE_CODE.findall(_prose(page.read_text(encoding="utf-8"))):
        match = QUOTED_PATH.match(code)
        if match and (match.group(1) == "../" or match.group(2) in top_level):
            yield code


def problems(page: Path, root: Path = ROOT) -> list[str]:
    found = []
    for target in relative_targets(page):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(root):
            found.append(f"{target}: outside the repository")
        elif not resolved.exists():
            found.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            found.append(f"{target}: no heading #{anchor} in {resolved.relative_to(root)}")
    for quoted in quoted_paths(page, root):
        base = page.parent if quoted.startswith("../") else root
        resolved = (base / quoted).resolve()
        if not resolved.is_relative_to(root):
            found.append(f"`{quoted}`: outside the repository")
        elif not resolved.exists():
            found.append(f"`{quoted}`: no such file")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert problems(page) == []


def test_the_checker_sees_what_it_must(tmp_path: Path) -> None:
    """A dangling link, a link out of the repository, a missing anchor and a dangling quoted
    path are each reported; a good link, an external link and a code block are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "core" / "audit").mkdir(parents=True)
    (tmp_path / "core" / "audit" / "signing.py").write_text("")
    (tmp_path / "docs" / "architecture.md").write_text("# Architecture\n")
    (tmp_path / "docs" / "api.md").write_text("# HTTP API\n\n## Errors\n")
    assert anchors(tmp_path / "docs" / "api.md") == {"http-api", "errors"}
    sample = tmp_path / "docs" / "sample.md"
    sample.write_text(
        "# Title\n\n## Second `part`\n\n"
        "[ok](architecture.md) [anchor](#second-part) [web](https://example.com)\n"
        "[gone](evidence-export.md) [out](../../shared/DESIGN.md) [bad anchor](api.md#nowhere)\n"
        "`core/nowhere.py` `../shared/DESIGN.md` `core/audit/signing.py`\n"
        "```\n[in code](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert problems(sample, tmp_path) == [
        "evidence-export.md: no such file",
        "../../shared/DESIGN.md: outside the repository",
        "api.md#nowhere: no heading #nowhere in docs/api.md",
        "`core/nowhere.py`: no such file",
        "`../shared/DESIGN.md`: no such file",
    ]
