"""`python -m pytest_genai merge`: shard reports of one project merged into the report one run
of it writes (aggregates, gates, repeated cases, cases), with and without xdist in the shards;
what the command refuses, and its baseline comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

CAPITALS = {
    "paris": ("France", "Paris"),
    "rome": ("Italy", "Rome"),
    "madrid": ("Spain", "Madrid"),
    "oslo": ("Norway", "Oslo"),
    "lisbon": ("Portugal", "Lisbon"),
    "berlin": ("Germany", "Berlin"),
    "vienna": ("Austria", "Vienna"),
    "dublin": ("Ireland", "Dublin"),
}

APP = """
import pytest

WRONG = {"madrid", "oslo"}  # the gated suite's app is right for 6 of 8 cases: 75%
FLAKY = {"paris": {2}, "rome": {3}}  # runs of the repeated suite that answer wrong


def answer_length(outputs):
    return len(outputs)


@pytest.mark.genai_eval(
    dataset="evals/capitals.jsonl",
    scorers=["equals_expected", answer_length],
    thresholds={"equals_expected": THRESHOLD, "answer_length": {"mean": 4}},
)
def test_gated(case):
    return "Nowhere" if case.id in WRONG else case.expectations["expected_response"]


@pytest.mark.genai_eval(
    dataset="evals/short.jsonl", scorers=["equals_expected"], repeats=3, pass_rule="majority"
)
def test_repeated(case):
    if case.repeat in FLAKY.get(case.id, set()):
        return "wrong"
    return case.expectations["expected_response"]


@pytest.mark.genai_eval(dataset="evals/short.jsonl", scorers=["equals_expected", answer_length])
def test_plain(case):
    return "Lyon" if case.id == "rome" else case.expectations["expected_response"]
"""

GATED = "test_app.py::test_gated"
REPEATED = "test_app.py::test_repeated"
PLAIN = "test_app.py::test_plain"

# Shard 1 holds half the gated suite with both wrong answers (50%: its own gate is missed at
# 0.7), shard 2 the other half (100%: its own gate passes at 0.8); the repeated cases' runs are
# split so that each shard alone decides one of them the other way (1 of 2 runs by majority).
SHARD_1 = [
    *(f"{GATED}[{c}]" for c in ("paris", "rome", "madrid", "oslo")),
    f"{REPEATED}[paris-r1]",
    f"{REPEATED}[paris-r2]",
    f"{REPEATED}[rome-r1]",
    f"{PLAIN}[paris]",
]
SHARD_2 = [
    *(f"{GATED}[{c}]" for c in ("lisbon", "berlin", "vienna", "dublin")),
    f"{REPEATED}[paris-r3]",
    f"{REPEATED}[rome-r2]",
    f"{REPEATED}[rome-r3]",
    *(f"{REPEATED}[madrid-r{n}]" for n in (1, 2, 3)),
    f"{PLAIN}[rome]",
    f"{PLAIN}[madrid]",
]


def write_rows(pytester: pytest.Pytester, name: str, ids: list[str]) -> None:
    path = pytester.path / "evals" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": i,
            "inputs": {"country": CAPITALS[i][0]},
            "expectations": {"expected_response": CAPITALS[i][1]},
        }
        for i in ids
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_project(pytester: pytest.Pytester, threshold: float) -> None:
    write_rows(pytester, "capitals.jsonl", list(CAPITALS))
    write_rows(pytester, "short.jsonl", ["paris", "rome", "madrid"])
    pytester.makepyfile(test_app=APP.replace("THRESHOLD", repr(threshold)))


def run_merge(pytester: pytest.Pytester, *args: str | Path) -> pytest.RunResult:
    """The command as a user runs it: a new Python process in the project's directory."""
    return pytester.run(sys.executable, "-m", "pytest_genai", "merge", *args, timeout=120)


def read(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / name).read_text())
    return data


def without_timing(report: dict[str, Any]) -> dict[str, Any]:
    """The report without run info and the cases' and verdicts' durations."""
    cases = []
    for case in report["cases"]:
        case = {k: v for k, v in case.items() if k != "duration"}
        case["feedback"] = [
            {k: v for k, v in f.items() if k != "duration"} for f in case["feedback"]
        ]
        cases.append(case)
    kept = ("totals", "summaries", "gates", "repeated_cases", "baseline")
    return {**{k: report[k] for k in kept}, "cases": cases}


@pytest.mark.parametrize(
    ("threshold", "gate_passes"),
    [pytest.param(0.7, True, id="gate-passes"), pytest.param(0.8, False, id="gate-missed")],
)
def test_shards_merge_into_the_report_of_one_run(
    pytester: pytest.Pytester, xdist_args: list[str], threshold: float, gate_passes: bool
) -> None:
    make_project(pytester, threshold)
    whole = pytester.runpytest("--genai-report=all.json")
    # 8 gated cases and 2 gates, 9 runs and 3 repeated cases, 3 plain cases (rome fails)
    gate_outcomes = {"passed": 1 + gate_passes, "failed": 1 - gate_passes}
    whole.assert_outcomes(
        passed=8 + gate_outcomes["passed"] + 9 + 3 + 2, failed=1 + gate_outcomes["failed"]
    )
    assert whole.ret == pytest.ExitCode.TESTS_FAILED
    single = read(pytester, "all.json")
    assert len(single["cases"]) == 8 + 9 + 3
    assert sorted(SHARD_1 + SHARD_2) == sorted(c["nodeid"] for c in single["cases"])

    for name, nodeids in (("shard-1.json", SHARD_1), ("shard-2.json", SHARD_2)):
        result = pytester.runpytest(f"--genai-report={name}", *xdist_args, *nodeids)
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    shards = [read(pytester, "shard-1.json"), read(pytester, "shard-2.json")]
    # each shard's own decisions differ from the whole run's
    own_gates = [{g["scorer"]: g["passed"] for g in s["gates"]} for s in shards]
    assert [g["equals_expected"] for g in own_gates] == [False, True]
    assert {r["case_id"]: r["passed"] for r in shards[0]["repeated_cases"]}["paris"] is False
    assert {r["case_id"]: r["passed"] for r in shards[1]["repeated_cases"]}["rome"] is False

    result = run_merge(pytester, "shard-2.json", "shard-1.json", "-o", "merged.json")
    assert result.ret == 1, result.stderr.str()  # the plain suite's `rome` failed
    merged = read(pytester, "merged.json")
    assert without_timing(merged) == without_timing(single)
    assert {g["scorer"]: g["passed"] for g in merged["gates"]} == {
        "equals_expected": gate_passes,
        "answer_length": True,
    }
    assert [(r["case_id"], r["run_passed"], r["passed"]) for r in merged["repeated_cases"]] == [
        ("madrid", [True, True, True], True),
        ("paris", [True, False, True], True),
        ("rome", [True, True, False], True),
    ]
    assert merged["run"]["merged_from"] == ["shard-2.json", "shard-1.json"]
    assert merged["run"]["exit_status"] == single["run"]["exit_status"] == 1
    assert merged["run"]["started_at"] == min(s["run"]["started_at"] for s in shards)
    assert merged["run"]["finished_at"] == max(s["run"]["finished_at"] for s in shards)

    verdict = "PASSED" if gate_passes else "FAILED"
    result.stdout.fnmatch_lines(
        [
            "merged 2 reports, 20 cases, into merged.json",
            "suite*scorer*cases*passed*failed*errors*skipped*pass rate*",
            f"{GATED}*answer_length*8*0*0*0*0*",
            f"{GATED}*equals_expected*8*6*2*0*0*75.0%*",
            f"{PLAIN}*answer_length*3*",
            f"{PLAIN}*equals_expected*3*2*1*0*0*66.7%*",
            f"{REPEATED}*equals_expected*9*7*2*0*0*77.8%*",
            "20 cases: 19 passed, 1 failed, 0 errors, 0 skipped; 31 scores recorded",
            f"gate {verdict} {GATED}: equals_expected pass rate 75.0% (95% CI 40.9%-92.9%) over "
            f"8 cases, needs >= {threshold:.1%}",
            f"gate PASSED {GATED}: answer_length mean 5.88 (95% CI 5.19-6.56) over 8 cases, "
            "needs >= 4",
        ]
    )
    assert "repeated case FAILED" not in result.stdout.str()
    assert result.stderr.str() == ""


def test_a_failed_repeated_case_fails_the_merge(pytester: pytest.Pytester) -> None:
    make_project(pytester, 0.7)
    app = pytester.path / "test_app.py"
    app.write_text(app.read_text().replace('"rome": {3}', '"rome": {1, 3}'))
    pytester.runpytest("--genai-report=all.json")
    rome = [f"{REPEATED}[rome-r{n}]" for n in (1, 2, 3)]
    others = [
        c["nodeid"] for c in read(pytester, "all.json")["cases"] if c["nodeid"] not in set(rome)
    ]
    pytester.runpytest("--genai-report=a.json", rome[0], *others)
    pytester.runpytest("--genai-report=b.json", *rome[1:])
    result = run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            f"repeated case FAILED {REPEATED}[rome]: 1 of 3 runs passed (pass rule 'majority'): "
            "r1 failed, r2 passed, r3 failed"
        ]
    )
    assert without_timing(read(pytester, "merged.json")) == without_timing(
        read(pytester, "all.json")
    )


def small_project(pytester: pytest.Pytester, wrong: set[str] | None = None) -> None:
    """A suite of the eight capitals, gated at 0 (wrong answers fail no test: the merge's exit
    status is the regression check's); the app is wrong for the cases in `wrong`."""
    write_rows(pytester, "capitals.jsonl", list(CAPITALS))
    pytester.makepyfile(
        test_small=f"""
        import pytest

        WRONG = {sorted(wrong or ())!r}

        @pytest.mark.genai_eval(
            dataset="evals/capitals.jsonl",
            scorers=["equals_expected"],
            thresholds={{"equals_expected": 0.0}},
        )
        def test_capitals(case):
            return "Nowhere" if case.id in WRONG else case.expectations["expected_response"]
        """
    )


def run_shards(pytester: pytest.Pytester, *names: str) -> None:
    """The small project's cases split into len(names) shards, each writing its report."""
    ids = list(CAPITALS)
    for i, name in enumerate(names):
        mine = [f"test_small.py::test_capitals[{c}]" for c in ids[i :: len(names)]]
        pytester.runpytest(f"--genai-report={name}", *mine)
        assert (pytester.path / name).exists()


def test_overlapping_shards_are_refused_and_nothing_is_written(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    run_shards(pytester, "a.json", "b.json")
    pytester.runpytest("--genai-report=all.json")
    result = run_merge(pytester, "a.json", "b.json", "all.json", "-o", "merged.json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(
        [
            "pytest-genai merge: 8 case(s) are in more than one report: "
            "test_small.py::test_capitals[[]berlin[]] (in b.json and all.json); *; and 3 more. "
            "Shards must run disjoint tests*"
        ]
    )
    assert result.stdout.str() == ""
    assert not (pytester.path / "merged.json").exists()


def test_a_report_of_another_schema_version_is_refused(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    run_shards(pytester, "a.json", "b.json")
    old = read(pytester, "b.json")
    old["schema_version"] = 0
    (pytester.path / "b.json").write_text(json.dumps(old))
    result = run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(
        [
            "pytest-genai merge: reports of different schema versions can't be merged (a.json has "
            "version 1, b.json has version 0)*"
        ]
    )
    assert not (pytester.path / "merged.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            [], "*the following arguments are required: REPORT.json, -o/--output*", id="nothing"
        ),
        pytest.param(
            ["-o", "m.json"], "*the following arguments are required: REPORT.json*", id="no-reports"
        ),
        pytest.param(
            ["a.json"], "*the following arguments are required: -o/--output*", id="no-output"
        ),
        pytest.param(
            ["a.json", "-o", "m.json", "--fail-on-regression"],
            "*--fail-on-regression compares with a baseline: give --baseline=PATH*",
            id="fail-on-regression-without-baseline",
        ),
        pytest.param(
            ["a.json", "-o", "m.json", "--colour"],
            "*unrecognized arguments: --colour*",
            id="unknown-option",
        ),
    ],
)
def test_bad_arguments(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    small_project(pytester)
    run_shards(pytester, "a.json")
    result = run_merge(pytester, *args)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["usage: python -m pytest_genai*", message])
    assert not (pytester.path / "m.json").exists()


def test_no_command(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, "-m", "pytest_genai", timeout=60)
    assert result.ret == 2
    result.stderr.fnmatch_lines(["usage: python -m pytest_genai*", "*required: COMMAND*"])


def test_a_missing_report(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    run_shards(pytester, "a.json")
    result = run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["pytest-genai merge: b.json: no such file"])
    assert not (pytester.path / "merged.json").exists()


def test_a_regression_against_the_baseline_fails_the_merge(pytester: pytest.Pytester) -> None:
    small_project(pytester)
    pytester.runpytest("--genai-report=baseline.json").assert_outcomes(passed=8 + 1)  # and the gate
    small_project(pytester, wrong={"paris", "rome", "madrid", "oslo", "berlin", "vienna"})
    run_shards(pytester, "a.json", "b.json")

    plain = run_merge(
        pytester, "a.json", "b.json", "-o", "merged.json", "--baseline", "baseline.json"
    )
    assert plain.ret == 0  # a regression is reported, and fails only when asked to
    failing = run_merge(
        pytester,
        "a.json",
        "b.json",
        "-o",
        "merged.json",
        "--baseline=baseline.json",
        "--fail-on-regression",
    )
    assert failing.ret == 1
    for result in (plain, failing):
        result.stdout.fnmatch_lines(
            [
                "compared with baseline.json*; a change is significant at p < 0.05*",
                "*test_small.py::test_capitals*equals_expected*100.0% -> 25.0%*REGRESSED",
                "6 case verdict(s) passed before and fail now:",
            ]
        )
    merged = read(pytester, "merged.json")
    assert merged["baseline"]["baseline"] == "baseline.json"
    assert [s["regressed"] for s in merged["baseline"]["scorers"]] == [True]


def test_no_regression_against_the_baseline(pytester: pytest.Pytester) -> None:
    small_project(pytester, wrong={"oslo"})
    pytester.runpytest("--genai-report=baseline.json")
    small_project(pytester, wrong={"paris"})
    run_shards(pytester, "a.json", "b.json")
    result = run_merge(
        pytester,
        "a.json",
        "b.json",
        "-o",
        "m.json",
        "--baseline=baseline.json",
        "--fail-on-regression",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*test_small.py::test_capitals*equals_expected*no significant change"]
    )


def test_repeated_cases_with_another_parameter(pytester: pytest.Pytester) -> None:
    write_rows(pytester, "short.jsonl", ["paris", "rome"])
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.parametrize("model", ["good", "bad"])
        @pytest.mark.genai_eval(dataset="evals/short.jsonl", scorers=["equals_expected"],
                                repeats=2)
        def test_x(case, model):
            return case.expectations["expected_response"] if model == "good" else "Lyon"
        """
    )
    pytester.runpytest("--genai-report=all.json")
    single = read(pytester, "all.json")
    assert [(r["case_id"], r["passed"]) for r in single["repeated_cases"]] == [
        ("paris-bad", False),
        ("paris-good", True),
        ("rome-bad", False),
        ("rome-good", True),
    ]
    nodeids = [c["nodeid"] for c in single["cases"]]
    pytester.runpytest("--genai-report=a.json", *nodeids[::2])
    pytester.runpytest("--genai-report=b.json", *nodeids[1::2])
    result = run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    assert read(pytester, "merged.json")["repeated_cases"] == single["repeated_cases"]
    assert result.ret == 1


def test_a_crashed_case_of_a_passing_gate(pytester: pytest.Pytester) -> None:
    write_rows(pytester, "capitals.jsonl", list(CAPITALS))
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.genai_eval(dataset="evals/capitals.jsonl", scorers=["equals_expected"],
                                thresholds={"equals_expected": 0.5})
        def test_gated(case):
            if case.id == "oslo":
                raise RuntimeError("the app crashed")
            return case.expectations["expected_response"]
        """
    )
    pytester.runpytest("--genai-report=all.json").assert_outcomes(passed=7 + 1, failed=1)
    single = read(pytester, "all.json")
    assert single["run"]["exit_status"] == 1
    nodeids = [c["nodeid"] for c in single["cases"]]
    pytester.runpytest("--genai-report=a.json", *nodeids[:4])
    pytester.runpytest("--genai-report=b.json", *nodeids[4:])
    run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    merged = read(pytester, "merged.json")
    assert without_timing(merged) == without_timing(single)
    assert merged["run"]["exit_status"] == single["run"]["exit_status"]


CRASHING = """
import pytest

CASES = [{"id": f"c{i}", "inputs": {"i": i}, "expectations": {"expected_response": "ok"}}
         for i in range(8)]


@pytest.mark.genai_eval(dataset=CASES, scorers=["equals_expected"],
                        thresholds={"equals_expected": 0.7})
def test_gated(case):
    if case.inputs["i"] >= 5:
        raise RuntimeError("the app crashed")
    return "ok"


def test_unrelated():
    assert 1 == 2
"""


def test_crashes_and_plain_failures_count_in_the_merge(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """A shard whose cases of a gated suite all crashed scores nothing of it; the merge still
    counts them, as one run does, and a failing test that never used pytest-genai fails the
    merged run."""
    pytester.makepyfile(test_app=CRASHING)
    whole = pytester.runpytest("--genai-report=all.json", *xdist_args)
    whole.stdout.fnmatch_lines(["gate FAILED *equals_expected pass rate 62.5%*over 8 cases*"])
    shard_a = [f"test_app.py::test_gated[c{i}]" for i in range(5)]
    shard_b = [f"test_app.py::test_gated[c{i}]" for i in range(5, 8)]
    pytester.runpytest("--genai-report=a.json", *xdist_args, *shard_a)
    pytester.runpytest(
        "--genai-report=b.json", *xdist_args, *shard_b, "test_app.py::test_unrelated"
    )
    assert read(pytester, "b.json")["cases"] == []  # nothing of the suite was scored there
    result = run_merge(pytester, "a.json", "b.json", "-o", "merged.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "gate FAILED *equals_expected pass rate 62.5%*over 8 cases*",
            "1 test(s) failed outside the scored suites:",
            "  FAILED test_app.py::test_unrelated",
        ]
    )
    merged, single = read(pytester, "merged.json"), read(pytester, "all.json")
    assert without_timing(merged) == without_timing(single)
    assert [c["nodeid"] for c in merged["unscored"]] == ["test_app.py::test_unrelated"]
    assert [c["nodeid"] for c in single["unscored"]] == ["test_app.py::test_unrelated"]
