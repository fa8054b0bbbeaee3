"""Every Python snippet in README.md and docs/ runs, and so does examples/quickstart.

Conventions for ```python blocks in the markdown:

- a block whose first line is `# <file>.py` is that file: `# test_x.py` is a test file, run on its
  own with pytester; `# conftest.py` and other names are support files, written next to every
  test file that follows them on the same page (a later block of the same name replaces it);
- a line `# expect: failed=1 passed=2` in a test file states its outcome exactly (pytester's
  `assert_outcomes`); without it, the file must pass, with at least one test and no failure;
- any other python block must at least compile.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from pytest_genai.config import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUICKSTART = ROOT / "examples" / "quickstart"

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ANY_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"#\s*([\w./-]+\.py)\s*$")
EXPECT = re.compile(r"^#\s*expect:\s*(.+)$", re.MULTILINE)
OUTCOME_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
TOTALS_LINE = re.compile(r"(\d+) cases: (\d+) passed, (\d+) failed, (\d+) errors, (\d+) skipped")

# Snippets must not depend on, or write into, the environment of the run that tests them.
HERMETIC_ENV = ("GITHUB_STEP_SUMMARY", *(option.env for option in OPTIONS))


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str

    @property
    def filename(self) -> str | None:
        match = FILE_NAME.fullmatch(self.code.split("\n", 1)[0].strip())
        return match.group(1) if match else None

    @property
    def is_test(self) -> bool:
        return self.filename is not None and Path(self.filename).name.startswith("test_")

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def expected_outcomes(self) -> dict[str, int] | None:
        match = EXPECT.search(self.code)
        if match is None:
            return None
        outcomes: dict[str, int] = {}
        for item in match.group(1).split():
            key, sep, count = item.partition("=")
            if not sep or key not in OUTCOME_KEYS or not count.isdigit():
                raise ValueError(f"{self.where}: bad '# expect:' item {item!r}")
            outcomes[key] = int(count)
        return outcomes


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in FENCE.finditer(text)
    ]


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]
TEST_BLOCKS = [block for block in ALL_BLOCKS if block.is_test]
OTHER_BLOCKS = [block for block in ALL_BLOCKS if not block.is_test]


def table_of(text: str) -> list[str]:
    """The quality table in some output: from its header line to the totals line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("suite ")), None)
    end = next((i for i, line in enumerate(lines) if TOTALS_LINE.search(line)), None)
    return [] if start is None or end is None else lines[start : end + 1]


def shown_table(block: Block) -> list[str]:
    """The quality table of the console block right after `block`, if the page shows one."""
    text = block.page.read_text(encoding="utf-8")
    for match in ANY_FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        if line <= block.line:
            continue
        if match.group(1) != "console":
            return []  # another snippet comes first: the output shown is not this one's
        return table_of(match.group(2))
    return []


def support_files(block: Block) -> dict[str, str]:
    """The non-test files declared on `block`'s page before it, the latest of each name."""
    return {
        earlier.filename: earlier.code
        for earlier in ALL_BLOCKS
        if earlier.page == block.page
        and earlier.line < block.line
        and earlier.filename is not None
        and not earlier.is_test
    }


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HERMETIC_ENV:
        monkeypatch.delenv(name, raising=False)


def test_every_page_is_found_and_has_runnable_snippets() -> None:
    """Guards the extraction itself: a broken pattern must not silently test nothing."""
    assert sum(1 for block in TEST_BLOCKS if shown_table(block)) >= 3
    pages_with_tests = {block.page.name for block in TEST_BLOCKS}
    assert {"README.md", "index.md", "scoring.md", "hooks.md"} <= pages_with_tests
    assert len(TEST_BLOCKS) >= 10
    for block in ALL_BLOCKS:
        assert block.code.strip(), f"{block.where}: empty python block"


@pytest.mark.parametrize("block", TEST_BLOCKS, ids=[b.where for b in TEST_BLOCKS])
def test_snippet_runs(block: Block, pytester: pytest.Pytester) -> None:
    filename = block.filename
    assert filename is not None
    for name, code in support_files(block).items():
        write(pytester.path, name, code)
    write(pytester.path, filename, block.code)

    result = pytester.runpytest_subprocess(filename, "-p", "no:cacheprovider")

    expected = block.expected_outcomes()
    output = "\n".join(result.outlines + result.errlines)
    if expected is None:
        outcomes = result.parseoutcomes()
        assert result.ret == 0, f"{block.where} should pass:\n{output}"
        assert outcomes.get("passed", 0) >= 1, f"{block.where} ran no test:\n{output}"
    else:
        result.assert_outcomes(**expected)
    # Every test snippet uses pytest-genai, so its quality section must be there.
    assert "genai quality" in output, f"{block.where}: no 'genai quality' section:\n{output}"
    # Output pasted into the page after the snippet must be what it really prints.
    shown = shown_table(block)
    if shown:
        assert shown == table_of(output), f"{block.where}: the table shown is out of date"


@pytest.mark.parametrize("block", OTHER_BLOCKS, ids=[b.where for b in OTHER_BLOCKS])
def test_snippet_compiles(block: Block) -> None:
    compile(block.code, block.where, "exec")


def test_quickstart_example_passes(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    shutil.copytree(
        QUICKSTART,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.json"),
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5, output
    assert outcomes == {"passed": outcomes["passed"]}, output  # no failure, skip or warning
    assert "genai quality" in output
    totals = TOTALS_LINE.search(output)
    assert totals is not None, output
    scored, passed, failed, errors, skipped = map(int, totals.groups())
    assert (scored, passed, failed, errors, skipped) == (outcomes["passed"],) * 2 + (0, 0, 0)
    # The table names every scorer kind the example demonstrates.
    for scorer in ("keyword_recall", "no_apology", "length", "equals_expected", "is_json"):
        assert re.search(rf"\s{scorer}\s", output), f"no row for {scorer}:\n{output}"
