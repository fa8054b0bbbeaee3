"""`--genai-baseline` through pytest: the terminal section, the JSON report, JUnit suite
properties, the step summary and `--genai-fail-on-regression`, with and without xdist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

# QUALITY picks the app's version: "good" answers every case, "bad" gets the first 7 wrong
# (a significant drop of both the pass rate and the numeric score), "noisy" changes scores
# without direction.
PROJECT = """
import os

import pytest
from pytest_genai import scorer, scorers

CASES = [{"id": f"q{i}", "inputs": {"n": i}, "expectations": {"expected_response": f"A{i}"}}
         for i in range(12)]


@scorer(threshold=0.5)
def closeness(outputs, expectations):
    return 1.0 if outputs == expectations["expected_response"] else 0.25


def app(n):
    quality = os.environ["QUALITY"]
    if quality == "bad" and n < 7:
        return "I don't know"
    return f"A{n}"


@pytest.mark.genai_eval(
    dataset=CASES, scorers=[scorers.equals_expected(), closeness],
    thresholds={"equals_expected": 0.0},
)
def test_answers(case):
    return app(case.inputs["n"])
"""


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    quality: str,
    *args: str,
) -> pytest.RunResult:
    monkeypatch.setenv("QUALITY", quality)
    return pytester.runpytest_subprocess(*args)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(test_suite=PROJECT)
    result = run(pytester, monkeypatch, "good", "--genai-report=old.json")
    assert result.ret == 0
    return pytester


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_a_regression_is_shown_everywhere_and_fails_the_run_when_asked(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
    tmp_path: Path,
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(
        project,
        monkeypatch,
        "bad",
        "--genai-baseline=old.json",
        "--genai-report=new.json",
        "--junitxml=junit.xml",
        *xdist_args,
    )
    # the gate (minimum 0) passes: without --genai-fail-on-regression the drop only shows
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*= genai baseline =*",
            "compared with old.json (run *); a change is significant at p < 0.05 *",
            "*test_answers*closeness*1 -> 0.5625*-0.4375*REGRESSED",
            "*test_answers*equals_expected*100.0% -> 41.7%*-58.3 pts*0.0156*12*REGRESSED",
            "14 case verdict(s) passed before and fail now:",
            "  test_suite.py::test_answers[[]q0]  closeness: passed -> failed",
        ]
    )
    comparison = load(project.path / "new.json")["baseline"]
    assert comparison["baseline"] == "old.json"
    by_scorer = {c["scorer"]: c for c in comparison["scorers"]}
    exact = by_scorer["equals_expected"]
    assert (exact["passed_to_failed"], exact["failed_to_passed"], exact["shared"]) == (7, 0, 12)
    assert exact["mcnemar_p"] == pytest.approx(2 / 2**7)
    assert exact["regressed"] is True
    closeness = by_scorer["closeness"]
    assert closeness["mean_diff"] == pytest.approx(-0.4375)
    assert closeness["bootstrap_p"] < 0.05 and closeness["regressed"] is True
    assert len(comparison["regressed_cases"]) == 14  # 7 cases, both scorers
    assert comparison["new_cases"] == comparison["removed_cases"] == []

    xml = JUnitXml.fromfile(str(project.path / "junit.xml"))
    suite = next(iter(xml))
    props = {p.name: p.value for p in suite.properties()}
    prefix = "genai.baseline.test_suite.py::test_answers.equals_expected"
    assert props["genai.baseline.regressions"] == "2"
    assert props[f"{prefix}.pass_rate_after"] == "0.416667"
    assert props[f"{prefix}.verdict"] == "regressed"

    text = summary.read_text()
    assert "### genai quality" in text and "### genai baseline" in text
    assert "**REGRESSED**" in text

    failing = run(
        project,
        monkeypatch,
        "bad",
        "--genai-baseline=old.json",
        "--genai-fail-on-regression",
        "--junitxml=junit2.xml",
        *xdist_args,
    )
    assert failing.ret == 1
    failing.stdout.fnmatch_lines(
        [
            "significant drop against the baseline old.json: pass rate 100.0% -> 41.7% "
            "(-58.3 pts, McNemar p=0.0156; 7 of 12 shared cases passed before and fail now); "
            "mean 1 -> 0.5625 (-0.4375, bootstrap p=0.001)",
            "significant drop against the baseline old.json: pass rate 100.0% -> 41.7% "
            "(-58.3 pts, McNemar p=0.0156; 7 of 12 shared cases passed before and fail now)",
            "FAILED test_suite.py::test_answers[[]genai-regression:closeness[]] - significant *",
            "FAILED test_suite.py::test_answers[[]genai-regression:equals_expected[]] - *",
        ]
    )
    failing.assert_outcomes(passed=12 + 1, failed=2)  # 12 cases, the gate, two regressions
    cases = [c for s in JUnitXml.fromfile(str(project.path / "junit2.xml")) for c in s]
    regressions = [c for c in cases if "genai-regression" in c.name]
    assert len(regressions) == 2 and all(not c.is_passed for c in regressions)


def test_an_unchanged_run_passes_the_regression_check(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    result = run(
        project,
        monkeypatch,
        "good",
        "--genai-baseline=old.json",
        "--genai-fail-on-regression",
        *xdist_args,
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*equals_expected*100.0% -> 100.0%*no significant change"])
    result.stdout.no_fnmatch_line("*REGRESSED*")
    result.stdout.no_fnmatch_line("*genai-regression*")


def test_an_improvement_is_not_a_regression(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_suite=PROJECT)
    assert run(pytester, monkeypatch, "bad", "--genai-report=old.json").ret == 0
    result = run(
        pytester, monkeypatch, "good", "--genai-baseline=old.json", "--genai-fail-on-regression"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*equals_expected*41.7% -> 100.0%*improved"])


def test_new_and_removed_cases_are_listed(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        test_suite=PROJECT.replace("range(12)", "range(2, 14)"),
    )
    result = run(project, monkeypatch, "good", "--genai-baseline=old.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "2 new cases (not in the baseline): *[[]q12], *[[]q13]",
            "2 removed cases (not in this run): *[[]q0], *[[]q1]",
        ]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "*--genai-baseline: *missing.json: no such file*"),
        ("{not json", "*--genai-baseline: *missing.json: not JSON: *"),
        ('{"cases": []}', "*not a pytest-genai report (it has no schema_version)*"),
        ('{"schema_version": 99}', "*report schema version 99, but this pytest-genai reads*"),
        ('{"schema_version": 1, "run": {}}', "*not a valid report: run.started_at: Field req*"),
    ],
)
def test_a_baseline_that_cannot_be_read_is_a_usage_error(
    pytester: pytest.Pytester, content: str | None, message: str
) -> None:
    pytester.makepyfile(test_suite="def test_a(genai): genai.record('x', True)")
    if content is not None:
        (pytester.path / "missing.json").write_text(content)
    result = pytester.runpytest_subprocess("--genai-baseline=missing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-genai{message}"])
    result.stdout.no_fnmatch_line("*test_a*PASSED*")  # nothing ran
    result.stderr.no_fnmatch_line("*INTERNALERROR*")


def test_fail_on_regression_needs_a_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="def test_a(): pass")
    result = pytester.runpytest_subprocess("--genai-fail-on-regression")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--genai-fail-on-regression compares with a baseline*"])


def test_fail_on_regression_from_the_ini_file_waits_for_a_baseline(
    pytester: pytest.Pytester,
) -> None:
    """A policy in the ini file applies to the runs that give a baseline; the others run."""
    pytester.makeini("[pytest]\ngenai_fail_on_regression = true\n")
    pytester.makepyfile(test_suite="def test_a(genai): genai.record('x', True)")
    result = pytester.runpytest_subprocess()
    assert result.ret == 0
    result.assert_outcomes(passed=1)
