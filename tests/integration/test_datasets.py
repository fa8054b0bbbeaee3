"""`@pytest.mark.genai_eval(dataset=...)` through pytest: one test per case, ids and order under
xdist, return values scored, tag markers, and broken datasets as single erroring tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

CASES = [
    {
        "id": "paris",
        "inputs": {"q": "France"},
        "expectations": {"expected_response": "Paris"},
        "tags": ["geo", "easy"],
    },
    {
        "id": "rome",
        "inputs": {"q": "Italy"},
        "expectations": {"expected_response": "Rome"},
        "tags": {"topic": "geo"},
    },
    {"id": "madrid", "inputs": {"q": "Spain"}, "expectations": {"expected_response": "Madrid"}},
    {
        "inputs": {"q": "Peru"},
        "expectations": {"expected_response": "Lima"},
        "metadata": {"source": "atlas"},
    },
]

APP = """
import pytest
from pytest_genai import scorers

CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Lisbon", "Peru": "Lima"}

@pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
def test_capitals(case):
    return CAPITALS[case.inputs["q"]]
"""


def write_dataset(pytester: pytest.Pytester, rows: list[Any], name: str = "evals/qa.jsonl") -> None:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_one_test_per_case_scored_by_its_return_value(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest("-v", "-p", "no:randomly", "--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*case 'madrid': ScoresFailed: 1 of 1 scorers failed:*",
            "*rationale: expected 'Madrid', got 'Lisbon'*",
            "*FAILED test_app.py::test_capitals[[]madrid[]]*",
        ]
    )
    assert "PytestReturnNotNoneWarning" not in result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text())
    by_id = {c["case_id"]: c for c in report["cases"]}
    peru = next(k for k in by_id if k.startswith("case-"))
    assert set(by_id) == {"paris", "rome", "madrid", peru}
    assert by_id["paris"]["inputs"] == {"q": "France"}
    assert by_id["paris"]["outputs"] == "Paris"
    assert by_id["paris"]["expectations"] == {"expected_response": "Paris"}
    assert by_id["madrid"]["outcome"] == "failed"


def test_ids_and_order_are_the_files_on_every_worker(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest("--collect-only", "-q", *xdist_args)
    ids = [line for line in result.outlines if line.startswith("test_app.py::")]
    if xdist_args:  # workers collect for themselves; the controller lists nothing
        result = pytester.runpytest("--collect-only", "-q")
        ids = [line for line in result.outlines if line.startswith("test_app.py::")]
    assert ids[:3] == [
        "test_app.py::test_capitals[paris]",
        "test_app.py::test_capitals[rome]",
        "test_app.py::test_capitals[madrid]",
    ]
    assert ids[3].startswith("test_app.py::test_capitals[case-")
    # the digest id is the same in another process
    again = pytester.runpytest_subprocess("--collect-only", "-q")
    assert ids[3] in again.stdout.str()


def test_tags_select_with_m_and_ids_with_k(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(test_app=APP)
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    result = pytester.runpytest("-m", "geo or topic", "-v")
    result.assert_outcomes(passed=2)
    result = pytester.runpytest("-k", "madrid")
    result.assert_outcomes(failed=1)


BROKEN = {
    "malformed": ('{"id": "a", "inputs": {"q": 1}}\n{"id": "b", inputs}\n', "evals/bad.jsonl:2"),
    "no-inputs": ('{"id": "a", "expectations": {}}\n', "evals/bad.jsonl:1 (case 'a'): missing"),
    "duplicate": (
        '{"id": "a", "inputs": {}}\n{"id": "a", "inputs": {}}\n',
        "evals/bad.jsonl:2 (case 'a'): duplicate case id 'a' (first on line 1)",
    ),
    "empty": ("\n\n", "evals/bad.jsonl: the dataset has no cases"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_dataset_is_one_erroring_test_and_the_rest_runs(
    pytester: pytest.Pytester, kind: str, xdist_args: list[str]
) -> None:
    text, message = BROKEN[kind]
    (pytester.path / "evals").mkdir()
    (pytester.path / "evals" / "bad.jsonl").write_text(text)
    write_dataset(pytester, CASES[:2])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/bad.jsonl")
        def test_broken(case):
            return "x"

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
        def test_fine(case):
            return case.expectations["expected_response"]

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest("-rE", *xdist_args)
    result.assert_outcomes(passed=3, errors=1)
    assert message in result.stdout.str()
    result.stdout.fnmatch_lines(["*ERROR test_app.py::test_broken[[]dataset-error[]]*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_missing_file_unknown_scorer_and_bad_options(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:1])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="nowhere.jsonl")
        def test_missing(case):
            return 1

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["no_such_scorer"])
        def test_unknown_scorer(case):
            return 1

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", treshold=0.9)
        def test_typo(case):
            return 1

        @pytest.mark.genai_eval()
        def test_no_dataset(case):
            return 1
        """
    )
    result = pytester.runpytest("-rE")
    result.assert_outcomes(errors=4)
    out = result.stdout.str()
    assert "nowhere.jsonl: no such file; check the path" in out
    assert "scorers=: no scorer named 'no_such_scorer'" in out
    assert "genai_eval has no option 'treshold'" in out
    assert "genai_eval needs dataset=" in out


def test_datasets_from_python_and_paths_beside_the_test(pytester: pytest.Pytester) -> None:
    """A list, a callable; a path relative to the test file's folder before the rootdir."""
    sub = pytester.path / "suite"
    sub.mkdir()
    (sub / "local.jsonl").write_text('{"id": "here", "inputs": {"q": "x"}}\n')
    (sub / "test_app.py").write_text(
        "import pytest\n"
        "def rows():\n"
        "    return [{'id': 'made', 'inputs': {'q': 'y'}}]\n"
        "@pytest.mark.genai_eval(dataset='local.jsonl')\n"
        "def test_local(case):\n"
        "    return case.id\n"
        "@pytest.mark.genai_eval(dataset=rows)\n"
        "def test_callable(case):\n"
        "    return case.id\n"
        "@pytest.mark.genai_eval(dataset=[{'inputs': {'q': 'z'}, 'id': 'listed'}])\n"
        "def test_list(case):\n"
        "    return case.id\n"
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["*test_local[[]here[]] PASSED*", "*test_callable[[]made[]] PASSED*", "*[[]listed[]]*"]
    )


def test_explicit_score_and_returning_nothing(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:2])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
        def test_explicit(case, genai):
            genai.score(case.expectations["expected_response"])

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
        def test_forgot_to_return(case):
            case.inputs
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*returns the app's output for its scorers*returned None*"])


def test_async_tests_are_awaited(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:2])
    pytester.makepyfile(
        test_app="""
        import asyncio
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
        async def test_async(case):
            await asyncio.sleep(0)
            return case.expectations["expected_response"]
        """
    )
    pytester.runpytest("-p", "no:anyio").assert_outcomes(passed=2)


def test_the_case_fixture_without_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_x(case):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the `case` fixture comes from @pytest.mark.genai_eval*"])


def test_a_marker_without_scorers_leaves_scoring_to_the_test(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:2])
    pytester.makepyfile(
        test_app="""
        import pytest
        from pytest_genai import assert_scored, scorers

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl")
        def test_own_scoring(case):
            assert_scored("Paris", scorers.exact_match("Paris"))
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_app.py::test_own_scoring*exact_match*2*2*"])


GATED = """
import pytest

CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Lisbon", "Peru": "Lima"}

@pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected", "similarity"],
                        thresholds={"equals_expected": LENIENT, "similarity": {"mean": 0.5}})
def test_lenient(case):
    return CAPITALS[case.inputs["q"]]

@pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"],
                        thresholds={"equals_expected": 0.9})
def test_strict(case):
    if case.inputs["q"] == "Peru":
        raise RuntimeError("the app crashed")
    return CAPITALS[case.inputs["q"]]
"""


def test_gates_decide_the_suite_not_each_case(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(test_app=GATED.replace("LENIENT", "0.7"))
    result = pytester.runpytest("--junitxml=junit.xml", "--genai-report=r.json", "-rA", *xdist_args)
    # the lenient suite's cases pass (its Spain case only counts against the gate); the strict
    # suite's crash is an error of its own, and counts against its gate
    result.assert_outcomes(passed=4 + 3 + 2, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*gate PASSED test_app.py::test_lenient: equals_expected pass rate 75.0% (95% CI "
            "30.1%-95.4%) over 4 cases, needs >= 70.0%",
            "*gate PASSED test_app.py::test_lenient: similarity mean *",
            "*gate FAILED test_app.py::test_strict: equals_expected pass rate 50.0% * over 4 "
            "cases, needs >= 90.0%",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_app.py::test_strict[[]genai-gate:equals_expected>=0.90[]] - quality*"]
    )
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="test_lenient[genai-gate:equals_expected&gt;=0.70]"' in junit
    assert 'name="test_strict[genai-gate:equals_expected&gt;=0.90]"' in junit
    gates = json.loads((pytester.path / "r.json").read_text())["gates"]
    assert [(g["suite"], g["scorer"], g["statistic"], g["passed"]) for g in gates] == [
        ("test_app.py::test_lenient", "equals_expected", "pass_rate", True),
        ("test_app.py::test_lenient", "similarity", "mean", True),
        ("test_app.py::test_strict", "equals_expected", "pass_rate", False),
    ]
    assert gates[2]["value"] == 0.5 and gates[2]["cases"] == 4


def test_a_run_whose_gates_pass_exits_zero(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"],
                                thresholds={"equals_expected": 0.5})
        def test_lenient(case):
            return "Paris"  # right once in four: a pass rate of 25%
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    pytester.makepyfile(
        test_app=pytester.path.joinpath("test_app.py").read_text().replace("0.5}", "0.25}")
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=5)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ('{"correctness": 0.9}', "thresholds= names 'correctness', which is not one of"),
        ('{"equals_expected": 1.5}', "a pass rate is between 0 and 1"),
        ('{"equals_expected": {"median": 0.5}}', "use a number, {'pass_rate': x} or"),
        ("0.9", "thresholds= takes a mapping of scorer names"),
    ],
)
def test_bad_thresholds(pytester: pytest.Pytester, thresholds: str, message: str) -> None:
    write_dataset(pytester, CASES[:1])
    pytester.makepyfile(
        test_app=f"""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"],
                                thresholds={thresholds})
        def test_x(case):
            return "Paris"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


MANY = [{"id": f"c{i:02d}", "inputs": {"q": str(i)}} for i in range(30)]


def test_sampling_picks_the_same_cases_for_a_seed_on_every_worker(
    pytester: pytest.Pytester,
) -> None:
    write_dataset(pytester, MANY)
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl")
        def test_all(case):
            print("RAN", case.id)

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", sample=3)
        def test_three(case):
            print("RAN", case.id)
        """
    )

    def ran(*args: str) -> list[str]:
        result = pytester.runpytest("-v", *args)
        assert result.ret == 0, result.stdout.str()
        passed = [line.split("::")[-1].split()[0] for line in result.outlines if "PASSED" in line]
        return sorted(passed)

    one = ran("--genai-sample=5", "--genai-sample-seed=42")
    assert len(one) == 5 + 3
    assert ran("--genai-sample=5", "--genai-sample-seed=42", "-n", "2") == one
    other = ran("--genai-sample=5", "--genai-sample-seed=43")
    assert other != one
    result = pytester.runpytest("--genai-sample=5")
    result.stdout.re_match_lines(
        [r"genai: a sample of 5 cases per dataset, seed (\d+) \(--genai-sample-seed=\1 .*\)"]
    )
    unsampled = pytester.runpytest("--collect-only", "-q")
    assert "33 tests collected" in unsampled.stdout.str()


def test_a_bad_sample_size(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, MANY[:2])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", sample=0)
        def test_x(case):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*sample= takes a positive whole number, got 0*"])
    result = pytester.runpytest("--genai-sample=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


REPEATED = """
import pytest

# a deterministic "flaky" app: the answer depends on the run
WRONG_RUNS = {"paris": {2}, "rome": {1, 3}, "madrid": {1, 2, 3}}

@pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"],
                        repeats=3, pass_rule=RULE)
def test_capitals(case):
    if case.repeat in WRONG_RUNS.get(case.id, set()):
        return "wrong"
    return case.expectations["expected_response"]
"""


@pytest.mark.parametrize(
    ("rule", "failing"),
    [
        ("all", {"paris", "rome", "madrid"}),
        ("any", {"madrid"}),
        ("majority", {"rome", "madrid"}),
        ("rate>=0.3", {"madrid"}),
    ],
)
def test_repeats_and_pass_rules(
    pytester: pytest.Pytester, rule: str, failing: set[str], xdist_args: list[str]
) -> None:
    write_dataset(pytester, CASES[:3])
    pytester.makepyfile(test_app=REPEATED.replace("RULE", repr(rule)))
    result = pytester.runpytest("--genai-report=r.json", "-rA", *xdist_args)
    # 9 runs pass on their own (their verdicts are the pass rule's to decide), then one result
    # per case
    result.assert_outcomes(passed=9 + 3 - len(failing), failed=len(failing))
    for case in failing:
        result.stdout.fnmatch_lines([f"FAILED test_app.py::test_capitals[[]{case}[]] - *"])
    result.stdout.fnmatch_lines(
        [f"*flaky paris: 2 of 3 runs passed (pass rule {rule!r}): r1 passed, r2 failed, r3 passed"]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    decided = {r["case_id"]: r for r in report["repeated_cases"]}
    assert {k for k, r in decided.items() if not r["passed"]} == failing
    assert decided["rome"]["runs"] == ["rome-r1", "rome-r2", "rome-r3"]
    assert decided["rome"]["run_passed"] == [False, True, False]


def test_repeats_from_the_command_line_and_bad_rules(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:1])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"])
        def test_ok(case):
            return case.expectations["expected_response"]

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", repeats=2, pass_rule="best-of")
        def test_bad_rule(case):
            return 1
        """
    )
    result = pytester.runpytest("--genai-repeats=4", "-v")
    result.assert_outcomes(passed=4 + 1, errors=1)
    result.stdout.fnmatch_lines(["*test_ok[[]paris-r4[]] PASSED*"])
    assert "pass_rule='best-of': use 'all', 'any' (pass@k), 'majority' or 'rate>=x'" in (
        result.stdout.str()
    )


EVALUATE = """
import time
from pytest_genai import evaluate, scorers

CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Lisbon"}

def app(q):
    time.sleep(0.3)
    if q == "Peru":
        raise RuntimeError("no data for Peru")
    return CAPITALS[q]

def test_batch():
    started = time.perf_counter()
    result = evaluate("evals/qa.jsonl", app, ["equals_expected"], max_workers=4)
    took = time.perf_counter() - started
    assert took < 0.9, took  # 4 cases of 0.3 s each, at once: not 1.2 s one after another
    assert [r.case_id for r in result.records][:3] == ["paris", "rome", "madrid"]
    assert [r.outcome for r in result.records] == ["passed", "passed", "failed", "error"]
    assert "no data for Peru" in result.records[3].error
    assert result.metrics == {"equals_expected/pass_rate": 0.5}
    assert [r.case_id for r in result.failed] == ["madrid", result.records[3].case_id]

def test_thresholds():
    evaluate("evals/qa.jsonl", app, ["equals_expected"], thresholds={"equals_expected": 0.9})
"""


def test_evaluate_runs_a_dataset_concurrently_and_joins_the_report(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    write_dataset(pytester, CASES)
    pytester.makepyfile(test_app=EVALUATE)
    result = pytester.runpytest("--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 1 of 1 thresholds missed:",
            "*equals_expected pass rate 50.0% * over 4 cases, needs >= 90.0%",
        ]
    )
    cases = json.loads((pytester.path / "r.json").read_text())["cases"]
    batch = [c for c in cases if c["suite"] == "test_app.py::test_batch"]
    assert sorted(c["case_id"] for c in batch)[1:] == ["madrid", "paris", "rome"]
    assert {c["nodeid"] for c in batch} >= {"test_app.py::test_batch[paris]"}
    assert next(c for c in batch if c["case_id"] == "madrid")["outputs"] == "Lisbon"


FORMATS = {
    "qa.json": json.dumps({"cases": [CASES[0], {**CASES[1], "tags": ["geo"]}]}, indent=1),
    "qa.csv": "id,q,expectations.expected_response,tags\n"
    'paris,France,Paris,"[""geo"", ""easy""]"\nrome,Italy,Rome,geo\n',
    "qa.yaml": "- id: paris\n  inputs: {q: France}\n  expectations: {expected_response: Paris}\n"
    "  tags: [geo, easy]\n- id: rome\n  inputs:\n    q: Italy\n  expectations:\n"
    "    expected_response: Rome\n  tags: [geo]\n",
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_file_format_through_pytest(
    pytester: pytest.Pytester, name: str, xdist_args: list[str]
) -> None:
    (pytester.path / "evals").mkdir()
    (pytester.path / "evals" / name).write_text(FORMATS[name])
    pytester.makepyfile(
        test_app=f"""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/{name}", scorers=["equals_expected"])
        def test_capitals(case):
            return {{"France": "Paris", "Italy": "Rome"}}[case.inputs["q"]]
        """
    )
    result = pytester.runpytest("-v", "-m", "geo", *xdist_args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*PASSED*test_capitals[[]paris[]]*"]
        if xdist_args
        else ["*test_capitals[[]paris[]] PASSED*"]
    )


def test_tags_never_act_as_other_markers(pytester: pytest.Pytester) -> None:
    write_dataset(
        pytester,
        [
            {"id": "a", "inputs": {"q": "France"}, "tags": ["skip", "xfail"]},
            {"id": "b", "inputs": {"q": "Italy"}, "tags": {"usefixtures": "x"}},
        ],
    )
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl")
        def test_x(case):
            assert False, "ran"
        """
    )
    result = pytester.runpytest("-m", "tag_skip or tag_usefixtures")
    result.assert_outcomes(failed=2)  # neither skipped nor xfailed: run, and failed


def test_repeats_with_another_parameter_decide_each_combination(
    pytester: pytest.Pytester,
) -> None:
    write_dataset(pytester, CASES[:1])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.parametrize("model", ["good", "bad"])
        @pytest.mark.genai_eval(dataset="evals/qa.jsonl", scorers=["equals_expected"], repeats=2)
        def test_x(case, model):
            return "Paris" if model == "good" else "Lyon"
        """
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=4 + 1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_app.py::test_x[[]paris-bad[]] - repeated case*"])


def test_duplicate_scorer_names_are_found_at_collection(pytester: pytest.Pytester) -> None:
    write_dataset(pytester, CASES[:2])
    pytester.makepyfile(
        test_app="""
        import pytest
        from pytest_genai import scorers

        @pytest.mark.genai_eval(dataset="evals/qa.jsonl",
                                scorers=[scorers.contains("a"), scorers.contains("b")])
        def test_x(case):
            return "ab"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*two scorers are both named 'contains'*"])
