"""The documentation cannot drift: every link in README.md and docs/ reaches a file (and heading) in the
repository, the README stays a five-minute read, and docs/settings.md lists exactly the environment variables
the code reads (signals_assets/defs/environment.py). Reads files only: no Dagster run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signals_assets.defs.environment import VARIABLES

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SETTINGS = REPO / "docs" / "settings.md"
README_MAX_LINES = 180

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# The project's own variables: SIGNAL_*, SIGNALS_*, STOCKNEWS_*, NUMERAI_*, FINBERT_*.
PROJECT_VARIABLE = re.compile(r"\b(?:SIGNALS?|STOCKNEWS|NUMERAI|FINBERT)_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")


def documents() -> list[Path]:
    pages = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "deploy" / "README.md", REPO / "BENCHMARKS.md"]
    return [page for page in pages if page.exists()]


def prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(page: Path) -> list[str]:
    text = prose(page.read_text())
    return INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def settings_table_rows() -> list[list[str]]:
    """Cells of every table row of docs/settings.md (header and separator rows left out)."""
    rows = []
    for line in FENCE.sub("", SETTINGS.read_text()).splitlines():
        if not line.startswith("|") or re.fullmatch(r"[|\s:-]+", line):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("env var", "resource"):
            continue
        rows.append(cells)
    return rows


def test_the_pages_exist():
    assert README.exists()
    assert SETTINGS.exists()
    assert len(documents()) >= 4


@pytest.mark.parametrize("page", documents(), ids=lambda page: str(page.relative_to(REPO)))
def test_every_link_reaches_a_file_and_heading_in_the_repository(page):
    problems = []
    for target in links(page):
        if not target:
            problems.append("an empty link")
            continue
        if SCHEME.match(target) or target.startswith("//"):
            problems.append(f"{target}: a link outside the repository")
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page.resolve()
        if "shared" in Path(path).parts or not destination.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
            continue
        if not destination.exists():
            problems.append(f"{target}: no such file ({destination.relative_to(REPO)})")
            continue
        if fragment:
            if destination.suffix != ".md":
                problems.append(f"{target}: an anchor into a file that is not markdown")
            elif fragment not in anchors(destination):
                problems.append(f"{target}: no heading with the anchor #{fragment} in {destination.relative_to(REPO)}")
    assert not problems, f"{page.relative_to(REPO)}:\n  " + "\n  ".join(problems)


def test_the_link_checker_sees_links_and_skips_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` heading: with punctuation!\n\n[a](docs/a.md#b) `[not](a-link.md)`\n\n"
        "```\n[not](either.md)\n```\n\n[ref]: ../up.md\n"
    )
    assert links(page) == ["docs/a.md#b", "../up.md"]
    assert anchors(page) == {"a-code-heading-with-punctuation"}


def test_the_readme_is_a_five_minute_read():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"


def test_every_environment_variable_the_code_reads_is_in_the_settings_table():
    documented = {name for row in settings_table_rows() for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}
    missing = sorted(set(VARIABLES) - documented)
    assert not missing, f"not in docs/settings.md's table of environment variables: {', '.join(missing)}"


def test_every_project_variable_the_settings_name_is_read_by_the_code():
    named = {name for row in settings_table_rows() for cell in row for name in PROJECT_VARIABLE.findall(cell)}
    assert named, "docs/settings.md names no SIGNAL*/STOCKNEWS_*/NUMERAI_*/FINBERT_* variable"
    unknown = sorted(named - set(VARIABLES))
    assert not unknown, (
        f"docs/settings.md names variables signals_assets/defs/environment.py does not read: {', '.join(unknown)}"
    )
