"""Every Python snippet in README.md and docs/ runs, and so do the projects in examples/.

Conventions for ```python blocks in the markdown:

- a block whose first line is `# <file>.py` is that file: `# test_x.py` is a test file, run on its
  own with pytester; `# conftest.py` and other names are support files, written next to every
  test file that follows them on the same page (a later block of the same name replaces it);
- a line `# expect: failed=1 passed=2` in a test file states its outcome exactly (pytester's
  `assert_outcomes`, plus `judge_errors=N` for tests reported as "judge error", 0 unless
  given); without it, the file must pass, with at least one test and no failure;
- a fence of any language right after a line `<!-- file: <path> -->` is a data file (a dataset,
  a config file, a prompt version, a stored snapshot such as
  `__snapshots__/test_x/test_y[greeting-v1].prompt.txt`), written like a support file for every
  test file that follows it on the page;
- any other python block must at least compile.

LLM judges: test snippets and examples/judges run with the judge pointed at the loopback
OpenAI-compatible server of tests/support (`GENAI_JUDGE_BASE_URL`, model `openai/judge-test`,
no `OPENAI_API_KEY`). Unscripted, it answers every question with a "yes" verdict. A test file
can script the replies, in the order the judge is asked, with one line

    # judge-replies: no -- The reply never mentions the refund window. | 4 | maybe

Replies are separated by `|`; each is a result, read as JSON when it parses (`4`, `true`) and
as a string otherwise (`no`, `friendly`), optionally followed by ` -- ` and a rationale. Once
they are used up, the "yes" default answers. The judges of one `assert_judged` call are asked
concurrently, so script differing replies only for judges asked one after another.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from pytest_genai.config import OPTIONS
from tests.support.llm_server import LLMServer, Recorded, Reply, verdict

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUICKSTART = ROOT / "examples" / "quickstart"
JUDGES_EXAMPLE = ROOT / "examples" / "judges"
AGENT_EXAMPLE = ROOT / "examples" / "agent"
JUDGE_MODEL = "openai/judge-test"

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ANY_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"#\s*([\w./-]+\.py)\s*$")
DATA_FILE = re.compile(
    r"^<!--\s*file:\s*([\w./@\[\]-]+)\s*-->[ \t]*\n\s*^```\w*[ \t]*\n(.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
EXPECT = re.compile(r"^#\s*expect:\s*(.+)$", re.MULTILINE)
OUTCOME_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "judge_errors")
JUDGE_REPLIES = re.compile(r"^#\s*judge-replies:\s*(.+)$", re.MULTILINE)
TOTALS_LINE = re.compile(r"(\d+) cases: (\d+) passed, (\d+) failed, (\d+) errors, (\d+) skipped")

# Snippets must not depend on, or write into, the environment of the run that tests them.
HERMETIC_ENV = ("GITHUB_STEP_SUMMARY", "OPENAI_API_KEY", *(option.env for option in OPTIONS))


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

    def judge_replies(self) -> list[Reply]:
        """The scripted judge replies of a `# judge-replies:` line, in order."""
        match = JUDGE_REPLIES.search(self.code)
        if match is None:
            return []
        replies = []
        for item in match.group(1).split("|"):
            result, _, rationale = (part.strip() for part in item.partition(" -- "))
            if not result:
                raise ValueError(f"{self.where}: empty reply in '# judge-replies:'")
            try:
                value = json.loads(result)
            except ValueError:
                value = result
            replies.append(verdict(value, rationale or "scripted reply"))
        return replies


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


def data_files(block: Block) -> dict[str, str]:
    """The `<!-- file: ... -->` files shown on `block`'s page before it, the latest of each."""
    text = block.page.read_text(encoding="utf-8")
    return {
        match.group(1): match.group(2)
        for match in DATA_FILE.finditer(text)
        if text.count("\n", 0, match.start()) + 1 < block.line
    }


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HERMETIC_ENV:
        monkeypatch.delenv(name, raising=False)
    # an app snippet that imports litellm must not download its price table
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def loopback_judge(
    hermetic_env: None, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> LLMServer:
    """Judges of the runs started by this test ask the loopback server (set after
    `hermetic_env` has cleared the variables; the subprocess runs inherit them)."""
    monkeypatch.setenv("GENAI_JUDGE_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("GENAI_JUDGE_MODEL", JUDGE_MODEL)
    return llm_server


def test_every_page_is_found_and_has_runnable_snippets() -> None:
    """Guards the extraction itself: a broken pattern must not silently test nothing."""
    assert sum(1 for block in TEST_BLOCKS if shown_table(block)) >= 3
    pages_with_tests = {block.page.name for block in TEST_BLOCKS}
    assert {
        "README.md",
        "index.md",
        "scoring.md",
        "hooks.md",
        "judges.md",
        "tracing.md",
        "datasets.md",
    } <= pages_with_tests
    assert len(TEST_BLOCKS) >= 10
    for block in ALL_BLOCKS:
        assert block.code.strip(), f"{block.where}: empty python block"


@pytest.mark.parametrize("block", TEST_BLOCKS, ids=[b.where for b in TEST_BLOCKS])
def test_snippet_runs(block: Block, pytester: pytest.Pytester, loopback_judge: LLMServer) -> None:
    filename = block.filename
    assert filename is not None
    for name, code in {**data_files(block), **support_files(block)}.items():
        write(pytester.path, name, code)
    write(pytester.path, filename, block.code)
    replies = block.judge_replies()
    loopback_judge.script(*replies)

    result = pytester.runpytest_subprocess(filename, "-p", "no:cacheprovider")

    expected = block.expected_outcomes()
    output = "\n".join(result.outlines + result.errlines)
    if expected is None:
        outcomes = result.parseoutcomes()
        assert result.ret == 0, f"{block.where} should pass:\n{output}"
        assert outcomes.get("passed", 0) >= 1, f"{block.where} ran no test:\n{output}"
    else:
        judge_errors = expected.pop("judge_errors", 0)
        result.assert_outcomes(**expected)
        # pytest's summary says "1 judge error", which pytester parses as the noun "judge"
        assert result.parseoutcomes().get("judge", 0) == judge_errors, output
    assert loopback_judge.pending == 0, f"{block.where}: scripted judge replies left unused"
    # Every test snippet uses pytest-genai, so its quality section must be there.
    assert "genai quality" in output, f"{block.where}: no 'genai quality' section:\n{output}"
    # Output pasted into the page after the snippet must be what it really prints.
    shown = shown_table(block)
    if shown:
        assert shown == table_of(output), f"{block.where}: the table shown is out of date"


def test_configuration_reference_lists_every_option() -> None:
    """Each option has a row in the reference table (flag, variable, ini key) and a section."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        row = re.search(rf"^\|.*`{option.flag}(=\w+)?`.*$", page, re.MULTILINE)
        assert row is not None, f"no row for {option.flag} in docs/configuration.md"
        assert f"`{option.env}`" in row.group(0) and f"`{option.ini}`" in row.group(0)
        heading = option.flag.removeprefix("--")
        assert f"\n### {heading}\n" in page, f"no '### {heading}' section"


@pytest.mark.parametrize("block", OTHER_BLOCKS, ids=[b.where for b in OTHER_BLOCKS])
def test_snippet_compiles(block: Block) -> None:
    compile(block.code, block.where, "exec")


def copy_example(example: Path, pytester: pytest.Pytester) -> None:
    shutil.copytree(
        example,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.json"),
    )


def test_quickstart_example_passes(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    copy_example(QUICKSTART, pytester)

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


# The instructions of the example's 1-5 `clarity` judge: the loopback judge answers them with 5.
CLARITY_INSTRUCTIONS = "from 1 (confusing) to 5 (crystal clear)"


def clarity_scores(request: Recorded) -> Reply | None:
    if CLARITY_INSTRUCTIONS in request.prompt_text:
        return verdict(5, "short, plain sentences; the answer comes first")
    return None  # the default "yes"


def test_judges_example_passes(
    pytester: pytest.Pytester, loopback_judge: LLMServer, xdist_args: list[str]
) -> None:
    copy_example(JUDGES_EXAMPLE, pytester)
    loopback_judge.respond_with(clarity_scores)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5, output
    assert outcomes == {"passed": outcomes["passed"]}, output  # no skip: the judge was asked
    totals = TOTALS_LINE.search(output)
    assert totals is not None, output
    assert totals.groups() == (str(outcomes["passed"]),) * 2 + ("0",) * 3, output
    asked = re.search(r"judges: (\d+) verdicts asked, 0 judge errors, \d+ tokens, cost \?", output)
    assert asked is not None, output
    chat = [r for r in loopback_judge.requests if r.path.endswith("/chat/completions")]
    assert len(chat) == int(asked.group(1)) > outcomes["passed"], output
    assert {r.body["model"] for r in chat} == {"judge-test"}
    assert any(CLARITY_INSTRUCTIONS in r.prompt_text for r in chat), "clarity judge not found"
    assert not loopback_judge.errors
    # A row for each kind of judge the example demonstrates, with the judge columns.
    assert re.search(r"^suite .* judge calls +tokens +cost$", output, re.MULTILINE), output
    for judge in (
        "is_polite_and_gets_straight_to_the_point",
        "relevance_to_query",
        "retrieval_groundedness",
        "correctness",
        "clarity",
    ):
        assert re.search(rf"\s{judge}\s", output), f"no row for {judge}:\n{output}"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("setup", ["dead server", "no key"])
def test_judges_example_skips_without_a_judge(
    setup: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_example(JUDGES_EXAMPLE, pytester)
    if setup == "dead server":
        url = f"http://127.0.0.1:{closed_port()}/v1"
        monkeypatch.setenv("GENAI_JUDGE_BASE_URL", url)
        monkeypatch.setenv("GENAI_JUDGE_MODEL", JUDGE_MODEL)
        reason = f"no LLM judge: the judge server at {url} does not answer"
    else:  # hermetic_env removed OPENAI_API_KEY; pytest.ini names an OpenAI model
        reason = "no LLM judge: no credentials for the judge model 'openai/gpt-4o-mini'"

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 5, output
    assert outcomes == {"skipped": outcomes["skipped"]}, output
    skips = [line for line in result.outlines if line.startswith("SKIPPED ")]
    assert skips, output
    assert all(reason in line for line in skips), output
    assert "genai quality" not in output  # nothing was judged, nothing to report


def test_agent_example_passes(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    copy_example(AGENT_EXAMPLE, pytester)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--genai-traces=traces.jsonl", *xdist_args
    )

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5, output
    assert outcomes == {"passed": outcomes["passed"]}, output  # no failure, skip or warning
    totals = TOTALS_LINE.search(output)
    assert totals is not None, output
    assert totals.groups() == (str(outcomes["passed"]),) * 2 + ("0",) * 3, output
    # a row for each trace scorer the example shows, and for its own scorer of the trace
    for scorer in (
        "max_llm_calls",
        "max_tokens",
        "max_cost",
        "max_latency",
        "tool_called_lookup_order",
        "grounded_in_retrieved_pages",
    ):
        assert re.search(rf"\s{scorer}\s", output), f"no row for {scorer}:\n{output}"
    # every test's spans were exported, one OTLP-JSON line per test, the agent's steps in them
    lines = (pytester.path / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == outcomes["passed"], output
    names = {
        span["name"]
        for line in lines
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    }
    assert {"answer", "search_help", "lookup_order", "chat openai/gpt-4o-mini"} <= names


SUPPORT_BOT_EXAMPLE = ROOT / "examples" / "support_bot"


def test_support_bot_example_passes(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    copy_example(SUPPORT_BOT_EXAMPLE, pytester)
    dataset = (SUPPORT_BOT_EXAMPLE / "evals" / "support.jsonl").read_text(encoding="utf-8")
    cases = [json.loads(line) for line in dataset.splitlines() if line.strip()]

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    # two tests over the dataset, one test per case each; no failure, skip or warning
    assert result.parseoutcomes() == {"passed": 2 * len(cases)}, output
    totals = TOTALS_LINE.search(output)
    assert totals is not None, output
    assert totals.groups() == (str(2 * len(cases)),) * 2 + ("0",) * 3, output
    for scorer in (
        "states_expected_facts",
        "no_apology",
        "links_help_page",
        "length",
        "routed_to_expected_team",
    ):
        assert re.search(rf"\s{scorer}\s", output), f"no row for {scorer}:\n{output}"
    # the test ids are the case ids, in the file's order
    collected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    ids = re.findall(r"::test_reply\[([\w-]+)\]$", collected.stdout.str(), re.MULTILINE)
    assert ids == [case["id"] for case in cases], collected.stdout.str()
    # tags are markers, accepted by the example's --strict-markers: -m selects by tag
    billing = [case for case in cases if "billing" in case.get("tags", [])]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "billing", *xdist_args)
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    assert result.parseoutcomes()["passed"] == 2 * len(billing) >= 4, output


PROMPTS_EXAMPLE = ROOT / "examples" / "prompts"


def test_prompts_example_passes(
    pytester: pytest.Pytester, xdist_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under `pytest -n`, the run below would inherit this worker's variables, and syrupy would
    # take it for an xdist worker: no snapshot summary, no check for unused snapshots.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    copy_example(PROMPTS_EXAMPLE, pytester)
    stored = {
        path: path.read_bytes()
        for path in sorted(pytester.path.rglob("*"))
        if path.is_file() and ("__snapshots__" in path.parts or path.name == "prompts.lock")
    }
    assert len(stored) >= 5  # the lock and the committed snapshots

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5, output
    assert outcomes == {"passed": outcomes["passed"]}, output  # no failure, skip or warning
    totals = TOTALS_LINE.search(output)
    assert totals is not None, output
    scored, passed, failed, errors, skipped = map(int, totals.groups())
    assert scored == passed >= 5 and (failed, errors, skipped) == (0, 0, 0), output
    # every committed snapshot was used and matched: none failed, none unused, none written
    assert re.search(rf"^{len(stored) - 1} snapshots passed\.$", output, re.MULTILINE), output
    assert {path: path.read_bytes() for path in stored} == stored
    # the quality table has a prompts column: one row per version and scorer
    assert re.search(r"^suite +prompts +scorer ", output, re.MULTILINE), output
    for version in ("support v1", "support v2"):
        for scorer in ("contains", "length"):
            row = rf"::test_each_version +{version} +{scorer} "
            assert re.search(row, output), f"no row for {version} {scorer}:\n{output}"
    assert re.search(r"::test_production_reply +support v1 +snapshot ", output), output

    # A locked version whose file changes fails the tests that load it, and the run.
    v1 = pytester.path / "prompts" / "support" / "v1.txt"
    v1.write_text(v1.read_text(encoding="utf-8").replace("Answer from", "Answer only from"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 1, output
    message = "prompt support v1 changed after it was locked: save the new text as v3"
    assert re.search(rf"^={{3,}} genai prompt lock ={{3,}}\n{message}$", output, re.MULTILINE)
    assert re.search(r"FAILED .*test_rendered_prompt\[support@1\]", output), output
    assert re.search(r"\d+ failed, \d+ passed", output), output


@pytest.mark.parametrize(
    ("name", "jobs"),
    [
        ("github-actions.yml", {"record", "replay"}),
        ("github-actions-sharded.yml", {"shard", "merge"}),
    ],
)
def test_ci_workflow_example_parses_and_uses_real_options(name: str, jobs: set[str]) -> None:
    """The example GitHub Actions workflows are valid YAML, every `--genai-*` flag they pass
    exists (with a value the option accepts) and every `python -m pytest_genai` command parses."""
    import yaml

    from pytest_genai.__main__ import _parser
    from pytest_genai.config import OPTIONS

    path = ROOT / "examples" / "ci" / name
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert jobs <= set(workflow["jobs"])
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            command = step.get("run", "")
            if "python -m pytest_genai" in command:
                words = command.split("python -m pytest_genai", 1)[1].split()
                args = [w for w in words if not w.startswith("${{") and w != "}}"]
                args = [w for w in args if not w.startswith("steps.")]
                _parser().parse_args(args)  # exits (SystemExit) on an unknown option
    flags = {option.flag: option for option in OPTIONS}
    used = re.findall(r"(--genai-[a-z-]+)(?:=(\S+))?", path.read_text(encoding="utf-8"))
    assert used
    for flag, value in used:
        assert flag in flags, f"{path}: unknown option {flag}"
        if value and not value.startswith("$"):
            flags[flag].parse(value.strip("'\""))


REPORTS_EXAMPLE = ROOT / "examples" / "reports"


def readme_commands(example: Path) -> list[str]:
    """The `$ ` command lines of the README's console blocks, comments left out."""
    text = (example / "README.md").read_text(encoding="utf-8")
    commands = []
    for language, body in ANY_FENCE.findall(text):
        if language == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    commands.append(line[2:].split("  #", 1)[0].strip())
    return commands


def test_reports_example_runs_as_its_readme_says(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """Every command of examples/reports/README.md, in order, as a shell would run them (with
    this environment's pytest and python first on PATH)."""
    import os
    import subprocess
    import sys

    copy_example(REPORTS_EXAMPLE, pytester)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for name in HERMETIC_ENV:
        env.pop(name, None)
    env["PYTEST_ADDOPTS"] = " ".join(["-p", "no:cacheprovider", *xdist_args])
    results = []
    for command in readme_commands(REPORTS_EXAMPLE):
        done = subprocess.run(
            ["bash", "-c", command], cwd=pytester.path, env=env, capture_output=True, text=True
        )
        results.append((command, done))
    codes = [done.returncode for _, done in results]
    output = "\n".join(f"$ {c}\n{d.stdout}{d.stderr}" for c, d in results)
    # the baseline run passes; the v2 run fails its gate and both regressions; collecting and
    # splitting succeed (the shards' own gates saw half the cases each: their status is theirs)
    assert codes[0] == 0 and codes[1] == 1 and codes[2:5] == [0, 0, 0], output
    v2 = results[1][1].stdout
    assert "genai-regression:equals_expected" in v2 and "100.0% -> 41.7%" in v2, output
    assert (pytester.path / "report.html").stat().st_size > 10_000
    merged = results[-1][1]
    assert merged.returncode == 1, output  # the gate, decided over all twelve cases
    assert "gate FAILED" in merged.stdout and "REGRESSED" in merged.stdout, output
    report = json.loads((pytester.path / "all.json").read_text(encoding="utf-8"))
    assert report["totals"]["cases"] == 12 and len(report["run"]["merged_from"]) == 2
    rate = {s["scorer"]: s["pass_rate"] for s in report["summaries"]}["equals_expected"]
    assert rate == pytest.approx(5 / 12, abs=1e-6)
    assert (pytester.path / "all.html").exists()
