"""Prompts through pytest: the lock flow, prompt and output snapshots (syrupy) with and without
xdist, the judge comparator over HTTP, lineage in the JSON report, the table and spans, and bad
prompt files as errors of the tests that load them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.llm_server import LLMServer, status, verdict

pytestmark = pytest.mark.usefixtures("judge_client_warmed")

GREETING_V1 = "Hello {{ user.name }}, welcome to {{ place }}.\n"
GREETING_V2 = """\
description: friendlier
messages:
  - role: system
    content: You greet people in {{ place }}.
  - role: user
    content: |
      My name is {{ user.name }}.
"""


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """This suite may run in an xdist worker; syrupy reads the worker's environment variable
    and would take an in-process pytester run for a worker too (and print no report)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)


def write_prompts(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "prompts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def greeting(pytester: pytest.Pytester) -> Path:
    write_prompts(
        pytester.path,
        {
            "greeting/v1.txt": GREETING_V1,
            "greeting/v2.yaml": GREETING_V2,
            "greeting/aliases.yaml": "production: 1\n",
        },
    )
    return pytester.path / "prompts"


LOCK_TESTS = """
from pytest_genai import load_prompt

def test_v1():
    assert "Ana" in load_prompt("greeting@1").format(user={"name": "Ana"}, place="Oslo")

def test_other():
    assert True
"""


def test_lock_flow(pytester: pytest.Pytester, greeting: Path, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_lock=LOCK_TESTS)
    lock = greeting / "prompts.lock"

    result = pytester.runpytest("--genai-lock-prompts", *xdist_args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["genai: locked 2 prompt version(s) in prompts.lock: greeting v1, greeting v2"]
    )
    entries = [line for line in lock.read_text().splitlines() if not line.startswith("#")]
    assert [e.rsplit(" ", 1)[0] for e in entries] == ["greeting v1", "greeting v2"]

    # a published version is edited: the session fails, and so does the test that loads it
    (greeting / "greeting" / "v1.txt").write_text("Hi {{ user.name }} in {{ place }}.\n")
    message = "prompt greeting v1 changed after it was locked: save the new text as v3"
    result = pytester.runpytest(*xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*genai prompt lock*", message])
    result.stdout.fnmatch_lines([f"*PromptError: *v1.txt: {message}"])
    # re-locking does not accept the edit
    result = pytester.runpytest("--genai-lock-prompts", *xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([message])

    # the new text saved as v3, v1 restored: passes; v3 is free until locked
    (greeting / "greeting" / "v3.txt").write_text("Hi {{ user.name }} in {{ place }}.\n")
    (greeting / "greeting" / "v1.txt").write_text(GREETING_V1)
    result = pytester.runpytest(*xdist_args)
    assert result.ret == pytest.ExitCode.OK
    assert "genai prompt lock" not in result.stdout.str()
    result = pytester.runpytest("--genai-lock-prompts", *xdist_args)
    result.stdout.fnmatch_lines(["genai: locked 1 prompt version(s) in prompts.lock: greeting v3"])

    # a locked version whose file is gone fails the run too
    (greeting / "greeting" / "v3.txt").unlink()
    result = pytester.runpytest(*xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["prompt greeting v3 was locked but its file is gone*"])


def test_snapshot_update_adds_new_versions_to_an_existing_lock(
    pytester: pytest.Pytester, greeting: Path
) -> None:
    pytester.makepyfile(test_lock=LOCK_TESTS)
    assert pytester.runpytest("--snapshot-update").ret == 0
    assert not (greeting / "prompts.lock").exists()  # no lock is made unasked
    pytester.runpytest("--genai-lock-prompts")
    (greeting / "greeting" / "v3.txt").write_text("Yo {{ user.name }}\n")
    result = pytester.runpytest("--snapshot-update")
    result.stdout.fnmatch_lines(["genai: locked 1 prompt version(s)*: greeting v3"])
    assert "greeting v3 " in (greeting / "prompts.lock").read_text()


SNAPSHOT_TESTS = """
import pytest
from pytest_genai import load_prompt

@pytest.mark.parametrize("who", ["ana", "bo"])
def test_render(who, prompt_snapshot):
    vars = {"user": {"name": who}, "place": "Oslo"}
    assert load_prompt("greeting@production").format(**vars) == prompt_snapshot
    assert load_prompt("greeting@2").format(**vars) == prompt_snapshot

def test_named(prompt_snapshot):
    prompt = load_prompt("greeting@1")
    assert prompt.format(user={"name": "x"}, place="A") == prompt_snapshot(name="a")
    assert prompt.format(user={"name": "x"}, place="B") == prompt_snapshot(name="b")
"""


def test_prompt_snapshots_create_diff_update_unused(
    pytester: pytest.Pytester, greeting: Path, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_snap=SNAPSHOT_TESTS)
    result = pytester.runpytest("--snapshot-update", *xdist_args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*6 snapshots generated*"])
    folder = pytester.path / "__snapshots__" / "test_snap"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_named[greeting-v1-a].prompt.txt",
        "test_named[greeting-v1-b].prompt.txt",
        "test_render[ana][greeting-v1].prompt.txt",
        "test_render[ana][greeting-v2].prompt.txt",
        "test_render[bo][greeting-v1].prompt.txt",
        "test_render[bo][greeting-v2].prompt.txt",
    ]
    assert (folder / "test_render[bo][greeting-v1].prompt.txt").read_text() == (
        "Hello bo, welcome to Oslo.\n"
    )
    assert (folder / "test_render[ana][greeting-v2].prompt.txt").read_text() == (
        # each message's text exactly as sent (this one ends with a newline), then a newline
        "=== system ===\nYou greet people in Oslo.\n\n=== user ===\nMy name is ana.\n\n"
    )

    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*6 snapshots passed*"])

    # a template change alters what is sent: a diff
    edited = GREETING_V1.replace("welcome to", "welcome in")
    (greeting / "greeting" / "v1.txt").write_text(edited)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=0, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*- Hello ana, welcome to Oslo.*",
            "*+ Hello ana, welcome in Oslo.*",
        ]
    )
    result = pytester.runpytest("--snapshot-update", *xdist_args)
    result.assert_outcomes(passed=3)
    assert (folder / "test_render[bo][greeting-v1].prompt.txt").read_text() == (
        "Hello bo, welcome in Oslo.\n"
    )

    # a test that no longer renders a version leaves its snapshots unused
    pytester.makepyfile(test_snap=SNAPSHOT_TESTS.replace('["ana", "bo"]', '["ana"]'))
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*2 snapshots unused*"])
    pytester.runpytest("--snapshot-update", *xdist_args)
    assert not (folder / "test_render[bo][greeting-v1].prompt.txt").exists()


OUTPUT_TESTS = """
import pytest

ANSWER = {answer!r}

@pytest.mark.parametrize("compare", ["exact", "whitespace", "similarity>=0.8", "similarity>=0.99"])
def test_answer(compare, genai_snapshot):
    assert ANSWER == genai_snapshot(compare=compare)

def test_custom(genai_snapshot):
    def same_number(old, new):
        ok = [c for c in old if c.isdigit()] == [c for c in new if c.isdigit()]
        return ok, "same digits" if ok else "the digits differ"
    assert ANSWER == genai_snapshot(compare=same_number)

def test_structured(genai_snapshot):
    assert {{"answer": ANSWER.split()}} == genai_snapshot
"""


def test_output_snapshot_comparators(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_out=OUTPUT_TESTS.format(answer="The answer is 42."))
    result = pytester.runpytest("--snapshot-update", *xdist_args)
    result.assert_outcomes(passed=6)
    folder = pytester.path / "__snapshots__" / "test_out"
    assert (folder / "test_answer[exact].output.txt").read_text() == "The answer is 42."
    assert json.loads((folder / "test_structured.output.txt").read_text()) == {
        "answer": ["The", "answer", "is", "42."]
    }

    pytester.makepyfile(test_out=OUTPUT_TESTS.format(answer="The  answer is\n42 ."))
    result = pytester.runpytest("-rA", "--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=2, failed=4)
    outcomes = {
        c["case_id"]: (c["outcome"], c["feedback"][0]["rationale"])
        for c in json.loads((pytester.path / "r.json").read_text())["cases"]
    }
    assert outcomes["exact"] == ("failed", "the texts differ")
    assert outcomes["whitespace"] == ("failed", "the texts differ beyond whitespace")
    assert outcomes["similarity>=0.8"][0] == "passed"
    assert outcomes["similarity>=0.8"][1].startswith("similarity 0.9")
    assert outcomes["similarity>=0.99"][0] == "failed"
    assert outcomes["test_custom"] == ("passed", "same digits")
    result.stdout.fnmatch_lines(
        [
            "*comparator similarity>=0.99: similarity 0.9* < 0.99",
            "*snapshot (expected):",
            "*  The answer is 42.",
            "*received:",
            "*  The  answer is",
            "*  42 .",
        ]
    )

    result = pytester.runpytest("--snapshot-update", *xdist_args)
    result.assert_outcomes(passed=6)
    assert (folder / "test_answer[exact].output.txt").read_text() == "The  answer is\n42 ."


def test_bad_comparator_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_x(genai_snapshot):\n    assert 'a' == genai_snapshot(compare='fuzzy')\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ValueError: unknown snapshot comparator 'fuzzy': use 'exact', 'whitespace'*"]
    )


JUDGE_TESTS = """
def test_capital(genai_snapshot):
    assert ANSWER == genai_snapshot(compare="judge")
"""


def test_judge_comparator_through_the_loopback_server(
    pytester: pytest.Pytester,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    judge = [
        f"--genai-judge-base-url={llm_server.base_url}",
        "--genai-judge-model=openai/judge-test",
        "--genai-judge-retries=0",
    ]

    def run(answer: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_judge=f"ANSWER = {answer!r}\n" + JUDGE_TESTS)
        return pytester.runpytest(*judge, *args, *xdist_args)

    run("Paris is the capital of France.", "--snapshot-update").assert_outcomes(passed=1)
    assert llm_server.requests == []  # nothing stored yet: nothing to compare

    # identical: no judge call
    run("Paris is the capital of France.").assert_outcomes(passed=1)
    assert llm_server.requests == []

    llm_server.script(verdict("yes", "both name Paris as the capital"))
    run("The capital of France is Paris.", "--genai-report=r.json").assert_outcomes(passed=1)
    [request] = llm_server.requests
    assert "Paris is the capital of France." in request.prompt_text
    assert "The capital of France is Paris." in request.prompt_text
    [case] = json.loads((pytester.path / "r.json").read_text())["cases"]
    assert case["feedback"][0]["rationale"] == "judge says yes: both name Paris as the capital"
    assert case["feedback"][0]["source"]["source_type"] == "LLM_JUDGE"

    llm_server.reset()
    llm_server.script(verdict("no", "B names Lyon, A names Paris"))
    result = run("The capital of France is Lyon.")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*comparator judge: judge says no: B names Lyon, A names Paris",
            "*  Paris is the capital of France.",
            "*  The capital of France is Lyon.",
        ]
    )

    llm_server.reset()
    llm_server.default = status(500, message="upstream exploded")
    result = run("The capital of France is Lyon.")
    result.stdout.fnmatch_lines(["*JUDGE ERROR*test_capital*"])
    assert "upstream exploded" in result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()


LINEAGE_TESTS = """
import pytest
from pytest_genai import assert_scored, scorers, trace

@trace
def app(ref):
    from pytest_genai import load_prompt
    return load_prompt(ref).format(user={"name": "Ana"}, place="Oslo")

@pytest.mark.parametrize("ref", ["greeting@production", "greeting@2"])
@pytest.mark.parametrize("n", [1, 2])
def test_app(ref, n):
    out = app(ref)
    assert_scored(str(out), scorers=[scorers.contains("Oslo")])
"""


def test_lineage_in_the_report_the_table_and_spans(
    pytester: pytest.Pytester, greeting: Path, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_lineage=LINEAGE_TESTS)
    result = pytester.runpytest(
        "--genai-report=r.json", "--genai-traces=t.jsonl", "-p", "no:randomly", *xdist_args
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "suite*prompts*scorer*cases*",
            "test_lineage.py::test_app*greeting v1*contains*2*2*0*",
            "test_lineage.py::test_app*greeting v2*contains*2*2*0*",
        ]
    )
    data = json.loads((pytester.path / "r.json").read_text())
    by_case = {c["case_id"]: c["prompts"] for c in data["cases"]}
    [v1] = by_case["1-greeting@production"]
    assert v1["name"] == "greeting" and v1["version"] == 1 and v1["alias"] == "production"
    expected_digest = __import__("hashlib").sha256(GREETING_V1.encode()).hexdigest()
    assert v1["digest"] == expected_digest
    assert [p["version"] for p in by_case["2-greeting@2"]] == [2]
    rows = {(a["suite"], a["prompts"]) for a in data["summaries"]}
    assert rows == {
        ("test_lineage.py::test_app", "greeting v1"),
        ("test_lineage.py::test_app", "greeting v2"),
    }

    spans = [
        span
        for line in (pytester.path / "t.jsonl").read_text().splitlines()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
        if span["name"] == "app"
    ]
    assert len(spans) == 4
    attributes = [
        {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]} for span in spans
    ]
    versions = sorted(str(a["genai.prompt.version"]) for a in attributes)
    assert versions == ["1", "1", "2", "2"]
    v1_span = next(a for a in attributes if str(a["genai.prompt.version"]) == "1")
    assert v1_span["genai.prompt.name"] == "greeting"
    assert v1_span["genai.prompt.alias"] == "production"
    assert v1_span["genai.prompt.digest"] == expected_digest
    assert v1_span["genai.prompt.uri"] == "prompts:/greeting/1"


def test_bad_prompt_files_fail_only_the_tests_that_load_them(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    write_prompts(
        pytester.path,
        {
            "good/v1.txt": "fine {{ x }}",
            "braces/v1.txt": "line one\nHello {{ name\n",
            "twice/v1.txt": "a",
            "twice/v1.md": "b",
            "yaml/v1.yaml": "messages:\n  - role: user\n    content: [unclosed\n",
            "alias/v1.txt": "a",
            "alias/aliases.yaml": "production: 4\n",
        },
    )
    pytester.makepyfile(
        """
        import pytest
        from pytest_genai import load_prompt

        @pytest.mark.parametrize(
            "ref", ["braces", "twice", "yaml", "alias@production", "missing", "good@7", "../x"]
        )
        def test_bad(ref):
            load_prompt(ref)

        def test_good():
            assert load_prompt("good").format(x=1) == "fine 1"
        """
    )
    result = pytester.runpytest("-p", "no:randomly", *xdist_args)
    result.assert_outcomes(passed=1, failed=7)
    text = result.stdout.str()
    assert "INTERNALERROR" not in text
    prompts = pytester.path / "prompts"
    for line in (
        f"*PromptError: {prompts / 'braces' / 'v1.txt'}:2: '{{{{' is never closed by '}}}}'",
        f"*PromptError: {prompts / 'twice'}: two files for version 1: v1.md and v1.txt*",
        f"*PromptError: {prompts / 'yaml' / 'v1.yaml'}:4: invalid YAML*",
        f"*PromptError: {prompts / 'alias' / 'aliases.yaml'}:1: alias 'production' points to v4,"
        " which does not exist (versions: v1)",
        "*PromptError: no prompt named 'missing' in *prompts; prompts there: alias, braces, good,"
        " twice, yaml",
        "*PromptError: prompt 'good' has no version 7 (it has v1)",
        "*PromptError: '../x' is not a valid prompt name*",
    ):
        result.stdout.fnmatch_lines([line])


def test_prompts_dir_option(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    root = pytester.path / "elsewhere"
    (root / "p").mkdir(parents=True)
    (root / "p" / "v1.txt").write_text("from elsewhere")
    pytester.makeini("[pytest]\ngenai_prompts_dir = elsewhere\n")
    pytester.makepyfile(
        "from pytest_genai import load_prompt\n"
        "def test_dir():\n    assert load_prompt('p').format() == 'from elsewhere'\n"
    )
    pytester.runpytest(*xdist_args).assert_outcomes(passed=1)
    other = pytester.path / "other"
    (other / "p").mkdir(parents=True)
    (other / "p" / "v1.txt").write_text("from elsewhere")
    pytester.runpytest(f"--genai-prompts-dir={other}", *xdist_args).assert_outcomes(passed=1)
    result = pytester.runpytest("--genai-prompts-dir=nowhere", *xdist_args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the prompt directory *nowhere does not exist*"])


def test_an_unreadable_prompt_lock_is_reported_not_an_internal_error(
    pytester: pytest.Pytester, greeting: Path
) -> None:
    pytester.makepyfile(test_lock=LOCK_TESTS)
    (greeting / "prompts.lock").write_bytes(b"greeting v1 \xff\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*genai prompt lock*", "*prompts.lock: can't be read*"])
    assert "INTERNALERROR" not in result.stdout.str()
