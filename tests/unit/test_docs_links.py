"""Every relative link in README.md, docs/ and tests/README.md leads somewhere: the file exists and a
``#anchor`` is a heading of the page it points at, slugged as GitHub does (github-slugger: lower case,
characters other than letters, digits, marks, spaces, ``-`` and ``_`` removed, spaces to ``-``, a
repeated slug numbered ``-1``, ``-2``; github/cmark-gfm renders the heading text first)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "tests" / "README.md", *(ROOT / "docs").rglob("*.md")])

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and reference definitions [label]: target
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # https:, mailto:, ...


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def heading_text(markdown: str) -> str:
    """What GitHub renders for a heading's inline markdown: code spans' text, links' text."""
    text = INLINE_CODE.sub(lambda m: m.group(2).strip(), markdown)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"<[^>]+>", "", text)


def slug(text: str) -> str:
    kept = "".join(c for c in text.lower() if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for _, line in prose_lines(page.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(heading_text(match.group(2)))
        found.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link of the page, code spans and blocks left out."""
    found = []
    for number, line in prose_lines(page.read_text()):
        prose = INLINE_CODE.sub("", line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(prose)]
        reference = REFERENCE.match(prose)
        if reference:
            targets.append(reference.group(1))
        found += [(number, target) for target in targets if not EXTERNAL.match(target)]
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """One line per broken link: where it is (relative to ``root``), the target and what is wrong."""
    broken = []
    for number, target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not resolved.exists():
            broken.append(f"{where}: no such file")
        elif anchor and (resolved.is_dir() or resolved.suffix != ".md"):
            broken.append(f"{where}: an anchor into a page that is not markdown")
        elif anchor and unquote(anchor) not in anchors(resolved):
            broken.append(f"{where}: no heading #{anchor} in {resolved.relative_to(root)}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_a_heading(page):
    assert broken_links(page) == []


def test_the_docs_pages_are_all_checked():
    assert {p.relative_to(ROOT).as_posix() for p in PAGES} >= {
        "README.md",
        "tests/README.md",
        "docs/configuration.md",
        "docs/decisions/README.md",
    }


# -- the checker itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading, expected",
    [
        # Slugs as github.com shows them for these headings.
        ("Which Flux, and how its metrics are collected", "which-flux-and-how-its-metrics-are-collected"),
        ("Credentials: secrets only", "credentials-secrets-only"),
        ("Flux's own events", "fluxs-own-events"),
        ("Render, commit, sync", "render-commit-sync"),
        ("`pulumi up` is green", "pulumi-up-is-green"),
        ("Upgrading the chart (`chartVersion`)", "upgrading-the-chart-chartversion"),
        ("0001: helm.v3.Release, not helm.v4.Chart", "0001-helmv3release-not-helmv4chart"),
        ("snake_case and [a link](x.md)", "snake_case-and-a-link"),
    ],
)
def test_headings_slug_as_on_github(heading, expected):
    assert slug(heading_text(heading)) == expected


def test_repeated_headings_are_numbered_and_code_blocks_are_not_headings(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Proof\n\n## Proof\n\n```sh\n# a shell comment\n```\n")
    assert anchors(page) == {"page", "proof", "proof-1"}


def test_a_missing_file_and_a_missing_heading_are_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Drift\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md#drift) [ok](#page) [web](https://example.com/x#y) `[code](nowhere.md)`\n"
        "[gone](missing.md) and [moved](other.md#fleet) and [here](#fleet)\n"
        "[ref]: missing-too.md\n"
    )
    reported = [problem.split(": ", 1)[1] for problem in broken_links(page, root=tmp_path)]
    assert reported == [
        "missing.md: no such file",
        "other.md#fleet: no heading #fleet in other.md",
        "#fleet: no heading #fleet in page.md",
        "missing-too.md: no such file",
    ]
