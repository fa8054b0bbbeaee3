"""Baseline comparison: the two tests against hand-computed values, and what is compared."""

from __future__ import annotations

import math

import pytest

from pytest_genai.report.baseline import (
    MIN_PAIRED,
    compare,
    direction,
    mcnemar_exact,
    paired_bootstrap,
)
from pytest_genai.report.baseline_view import junit_properties, markdown, terminal_lines
from pytest_genai.report.repeats import RepeatedCase, decide
from pytest_genai.results import CaseResult, Feedback, FeedbackError

SUITE = "t.py::test_a"


def case(
    case_id: str, *feedback: Feedback, outcome: str = "passed", suite: str = SUITE
) -> CaseResult:
    return CaseResult(
        nodeid=f"{suite}[{case_id}]",
        suite=suite,
        case_id=case_id,
        feedback=list(feedback),
        outcome=outcome,  # type: ignore[arg-type]
    )


def verdict(passed: bool, name: str = "correct") -> Feedback:
    return Feedback(name=name, value="yes" if passed else "no", passed=passed)


def number(value: float, name: str = "score", rule: str | None = None) -> Feedback:
    return Feedback(name=name, value=value, pass_rule=rule)


def run_of(passes: list[bool]) -> list[CaseResult]:
    return [case(f"c{i}", verdict(p)) for i, p in enumerate(passes)]


# -- McNemar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 0, 1.0),  # no discordant pair: no evidence
        (6, 0, 2 / 2**6),  # 0.03125
        (5, 0, 2 / 2**5),  # 0.0625: five of five is not enough at 0.05
        (0, 6, 2 / 2**6),  # symmetric
        (7, 2, 2 * (1 + 9 + 36) / 2**9),  # 0.1796875
        (10, 1, 2 * (1 + 11) / 2**11),  # 0.01171875
        (3, 3, 1.0),  # capped at 1
    ],
)
def test_mcnemar_exact_against_hand_computed_values(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected, abs=1e-12)


def test_mcnemar_exact_with_many_pairs_stays_a_probability() -> None:
    p = mcnemar_exact(2600, 2400)
    assert 0 < p < 0.01  # 52% of 5000 discordant pairs one way: a real shift
    assert mcnemar_exact(2500, 2500) == 1.0


# -- paired bootstrap -------------------------------------------------------------------------


def test_bootstrap_of_identical_scores_is_no_change() -> None:
    assert paired_bootstrap([0.0] * 20) == (0.0, 0.0, 1.0)


def test_bootstrap_of_a_constant_shift_is_as_certain_as_it_can_say() -> None:
    assert paired_bootstrap([-0.25] * 12) == (-0.25, -0.25, 2 / 2001)


def test_bootstrap_interval_holds_the_mean_and_is_deterministic() -> None:
    differences = [-0.3, -0.1, -0.2, -0.25, -0.15, 0.05, -0.2, -0.1, -0.3, -0.05]
    low, high, p = paired_bootstrap(differences)
    mean = math.fsum(differences) / len(differences)
    assert low < mean < high < 0  # every difference but one is a drop
    assert p < 0.05
    assert paired_bootstrap(differences) == (low, high, p)  # fixed seed


def test_bootstrap_of_noise_around_zero_is_not_significant() -> None:
    differences = [(-1) ** i * 0.1 * (i % 5 + 1) for i in range(40)]
    low, high, p = paired_bootstrap(differences)
    assert low < 0 < high
    assert p > 0.3


def test_bootstrap_needs_a_case() -> None:
    with pytest.raises(ValueError, match="at least one"):
        paired_bootstrap([])


# -- compare ----------------------------------------------------------------------------------


def test_identical_runs_show_no_change() -> None:
    cases = run_of([True] * 7 + [False] * 3)
    comparison = compare(cases, cases, name="old.json")
    (change,) = comparison.scorers
    assert (change.pass_rate_before, change.pass_rate_after, change.pass_rate_delta) == (
        0.7,
        0.7,
        0.0,
    )
    assert change.shared == 10
    assert (change.passed_to_failed, change.failed_to_passed, change.mcnemar_p) == (0, 0, 1.0)
    assert not change.significant and not change.regressed and not change.improved
    assert comparison.regressed_cases == comparison.new_cases == comparison.removed_cases == []


def test_a_significant_drop_is_a_regression_with_its_cases_listed() -> None:
    before = run_of([True] * 10)
    after = run_of([False] * 6 + [True] * 4)
    comparison = compare(after, before, name="old.json", commit="abc123")
    (change,) = comparison.scorers
    assert change.pass_rate_before == 1.0 and change.pass_rate_after == 0.4
    assert change.pass_rate_delta == pytest.approx(-0.6)
    assert (change.passed_to_failed, change.failed_to_passed) == (6, 0)
    assert change.mcnemar_p == pytest.approx(0.03125)
    assert change.regressed and change.significant and not change.improved
    assert [c.case_id for c in comparison.regressed_cases] == [f"c{i}" for i in range(6)]
    assert {(c.before, c.after) for c in comparison.regressed_cases} == {("passed", "failed")}
    assert comparison.regressions == [change]


def test_five_lost_cases_of_ten_are_not_yet_significant() -> None:
    comparison = compare(run_of([False] * 5 + [True] * 5), run_of([True] * 10), name="b")
    (change,) = comparison.scorers
    assert change.mcnemar_p == pytest.approx(0.0625)
    assert not change.regressed
    assert len(comparison.regressed_cases) == 5  # listed all the same


def test_a_significant_rise_is_an_improvement() -> None:
    comparison = compare(run_of([True] * 10), run_of([False] * 8 + [True] * 2), name="b")
    (change,) = comparison.scorers
    assert change.failed_to_passed == 8 and change.improved and not change.regressed


def test_changes_that_cancel_out_are_not_significant() -> None:
    before = run_of([True] * 6 + [False] * 6)
    after = run_of([False] * 6 + [True] * 6)
    (change,) = compare(after, before, name="b").scorers
    assert change.pass_rate_delta == 0.0
    assert (change.passed_to_failed, change.failed_to_passed) == (6, 6)
    assert change.mcnemar_p == 1.0 and not change.significant


def test_no_shared_cases() -> None:
    before = [case(f"old{i}", verdict(True)) for i in range(5)]
    after = [case(f"new{i}", verdict(False)) for i in range(5)]
    comparison = compare(after, before, name="b")
    (change,) = comparison.scorers
    assert (change.pass_rate_before, change.pass_rate_after) == (1.0, 0.0)
    assert change.shared == 0 and change.mcnemar_p is None and change.bootstrap_p is None
    assert not change.regressed  # nothing paired to decide on
    assert comparison.new_cases == [f"{SUITE}[new{i}]" for i in range(5)]
    assert comparison.removed_cases == [f"{SUITE}[old{i}]" for i in range(5)]
    assert "no shared cases" in "\n".join(terminal_lines(comparison))


def test_new_and_removed_cases_and_scorers() -> None:
    before = [case("a", verdict(True)), case("b", verdict(True))]
    after = [case("b", verdict(True), verdict(True, "polite")), case("c", verdict(True))]
    comparison = compare(after, before, name="b")
    assert comparison.new_cases == [f"{SUITE}[c]"]
    assert comparison.removed_cases == [f"{SUITE}[a]"]
    polite = next(c for c in comparison.scorers if c.scorer == "polite")
    assert polite.cases_before == 0 and polite.pass_rate_before is None and polite.shared == 0
    assert polite.pass_rate_delta is None


def test_errors_count_as_not_passed_and_skips_are_left_out() -> None:
    before = run_of([True] * 8)
    after = [
        *(case(f"c{i}", verdict(True)) for i in range(4)),
        case("c4", outcome="error"),  # the app crashed before scoring: an error for the scorer
        case(
            "c5",
            Feedback(name="correct", error=FeedbackError(error_type="JudgeError", message="429")),
            outcome="error",
        ),
        case("c6", verdict(True), outcome="skipped"),
        case("c7", verdict(False)),
    ]
    (change,) = compare(after, before, name="b").scorers
    assert change.cases_after == 7  # the skipped case is not counted
    assert change.pass_rate_after == pytest.approx(4 / 7, abs=1e-6)
    assert change.shared == 7 and change.passed_to_failed == 3


def test_suites_and_scorers_are_compared_separately_whatever_the_prompt_versions() -> None:
    other = "t.py::test_b"
    before = run_of([True] * 10) + [case(f"x{i}", verdict(True), suite=other) for i in range(10)]
    after = run_of([True] * 10) + [case(f"x{i}", verdict(False), suite=other) for i in range(10)]
    for c in after:
        c.prompts = []  # prompt versions never split a comparison row
    comparison = compare(after, before, name="b")
    assert [(c.suite, c.regressed) for c in comparison.scorers] == [(SUITE, False), (other, True)]


def numeric_run(values: list[float], rule: str | None = None) -> list[CaseResult]:
    passed = None if rule is None else True  # the verdicts are not what these tests are about
    return [
        case(f"c{i}", Feedback(name="score", value=v, pass_rule=rule, passed=passed))
        for i, v in enumerate(values)
    ]


def test_numeric_drop_is_decided_by_the_paired_bootstrap() -> None:
    before = numeric_run([0.8 + 0.01 * i for i in range(12)], rule=">= 0.5")
    after = numeric_run(
        [0.7 + 0.01 * i + (0.02 if i % 3 else -0.01) for i in range(12)], rule=">= 0.5"
    )
    (change,) = compare(after, before, name="b").scorers
    assert change.paired == 12
    assert change.mean_delta == pytest.approx(change.mean_after - change.mean_before, abs=1e-6)
    assert change.mean_diff == pytest.approx(change.mean_delta, abs=1e-6)  # same cases
    assert change.mean_diff_high is not None and change.mean_diff_high < 0
    assert change.bootstrap_p is not None and change.bootstrap_p < 0.05
    assert change.better == "higher"
    assert change.regressed


def test_numeric_noise_is_not_a_regression() -> None:
    before = numeric_run([0.5 + 0.1 * (i % 4) for i in range(20)])
    after = numeric_run([0.5 + 0.1 * ((i + 2) % 4) for i in range(20)])
    (change,) = compare(after, before, name="b").scorers
    assert change.mean_delta == 0.0 and not change.significant


def test_a_rising_score_with_an_upper_bound_rule_is_a_regression() -> None:
    before = numeric_run([1.0 + 0.1 * i for i in range(12)], rule="<= 5 s")
    after = numeric_run([2.0 + 0.1 * i for i in range(12)], rule="<= 5 s")
    (change,) = compare(after, before, name="b").scorers
    assert change.better == "lower" and change.mean_diff == pytest.approx(1.0)
    assert change.regressed and not change.improved
    (faster,) = compare(before, after, name="b").scorers
    assert faster.improved and not faster.regressed


def test_too_few_paired_scores_are_not_decided() -> None:
    before = numeric_run([0.9] * (MIN_PAIRED - 1))
    after = numeric_run([0.1] * (MIN_PAIRED - 1))
    (change,) = compare(after, before, name="b").scorers
    assert change.mean_diff == pytest.approx(-0.8)
    assert change.bootstrap_p is None and not change.regressed


def test_views_show_the_regression() -> None:
    comparison = compare(
        run_of([False] * 7 + [True] * 3), run_of([True] * 10), name="old.json", commit="f" * 40
    )
    text = "\n".join(terminal_lines(comparison))
    assert "compared with old.json (commit ffffffffffff" in text
    assert "100.0% -> 30.0%" in text and "-70.0 pts" in text and "REGRESSED" in text
    assert "7 case verdict(s) passed before and fail now" in text
    assert f"{SUITE}[c0]  correct: passed -> failed" in text
    md = markdown(comparison)
    assert md.startswith("### genai baseline") and "**REGRESSED**" in md
    props = dict(junit_properties(comparison))
    assert props["genai.baseline"] == "old.json"
    assert props["genai.baseline.regressions"] == "1"
    assert props[f"genai.baseline.{SUITE}.correct.pass_rate_delta"] == "-0.7"
    assert props[f"genai.baseline.{SUITE}.correct.mcnemar_p"] == "0.015625"  # 2 / 2**7
    assert props[f"genai.baseline.{SUITE}.correct.verdict"] == "regressed"


def test_long_case_lists_are_cut_in_the_terminal() -> None:
    before = run_of([True] * 40)
    after = run_of([False] * 40)
    after += [case(f"n{i}", verdict(True)) for i in range(15)]
    lines = terminal_lines(compare(after, before, name="b"))
    assert any("... and 20 more (all are in the JSON report)" in line for line in lines)
    assert any(line.startswith("15 new cases") and "... and 5 more" in line for line in lines)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (">= 0.8", "higher"),
        ("<= 5 s", "lower"),
        ("words <= 30", "lower"),
        ("<= 0.001 USD", "lower"),
        ("words >= 3 and <= 30", None),  # a range: neither end is better
        ("<lambda>", None),  # a function's name says nothing
        ("is true", None),
        (None, None),
    ],
)
def test_the_better_direction_comes_from_the_pass_rule(rule: str | None, expected: str) -> None:
    assert direction(rule) == expected


def test_a_significant_change_without_a_direction_is_neither_better_nor_worse() -> None:
    before = numeric_run([0.9 + 0.001 * i for i in range(12)])  # no pass rule
    after = numeric_run([0.5 + 0.001 * i for i in range(12)])
    comparison = compare(after, before, name="b")
    (change,) = comparison.scorers
    assert change.better is None and change.significant
    assert not change.regressed and not change.improved
    assert comparison.regressions == []
    assert "changed" in "\n".join(terminal_lines(comparison))


def test_a_lambda_rule_does_not_turn_a_drop_into_an_improvement() -> None:
    before = numeric_run([0.9 + 0.001 * i for i in range(12)], rule="<lambda>")
    after = numeric_run([0.7 + 0.001 * i for i in range(12)], rule="<lambda>")
    (change,) = compare(after, before, name="b").scorers
    assert not change.improved and change.better is None


def test_non_finite_scores_are_left_out() -> None:
    before = numeric_run([0.9] * 12, rule=">= 0.5")
    after = numeric_run([0.8] * 11 + [float("nan")], rule=">= 0.5")
    (change,) = compare(after, before, name="b").scorers
    assert change.mean_after == pytest.approx(0.8)
    assert change.paired == 11 and change.regressed


def test_the_mean_is_the_quality_tables_mean_over_all_values() -> None:
    before = [case("a", number(1.0)), case("b", number(0.0), number(0.0), number(0.0))]
    (change,) = compare(before, before, name="b").scorers
    assert change.mean_before == change.mean_after == 0.25  # not 0.5, the mean of case means


def repeated_run(passes: dict[str, list[bool]], rule: str = "majority") -> tuple[list, list]:
    cases, repeated = [], []
    for case_id, runs in passes.items():
        run_ids = [f"{case_id}-r{n + 1}" for n in range(len(runs))]
        cases += [case(run, verdict(p)) for run, p in zip(run_ids, runs, strict=True)]
        repeated.append(
            RepeatedCase(
                suite=SUITE,
                case_id=case_id,
                rule=rule,
                runs=run_ids,
                run_passed=runs,
                passed=decide(rule, sum(runs), len(runs)),
            )
        )
    return cases, repeated


def test_the_runs_of_a_repeated_case_are_one_case_to_the_test() -> None:
    # 4 cases x 5 runs; two cases go from always passing to always failing
    before, before_repeated = repeated_run({f"q{i}": [True] * 5 for i in range(4)})
    after, after_repeated = repeated_run(
        {"q0": [False] * 5, "q1": [False] * 5, "q2": [True] * 5, "q3": [True] * 5}
    )
    comparison = compare(
        after,
        before,
        name="b",
        current_repeated=after_repeated,
        baseline_repeated=before_repeated,
    )
    (change,) = comparison.scorers
    assert (change.pass_rate_before, change.pass_rate_after) == (1.0, 0.5)  # per run
    assert (change.shared, change.passed_to_failed) == (4, 2)  # per case: not 20 and 10
    assert change.mcnemar_p == pytest.approx(0.5)
    assert not change.regressed
    assert [c.case_id for c in comparison.regressed_cases] == ["q0", "q1"]
    assert comparison.new_cases == comparison.removed_cases == []


def test_a_repeated_case_passes_by_its_rule() -> None:
    before, before_repeated = repeated_run({f"q{i}": [True, True, True] for i in range(8)})
    after, after_repeated = repeated_run(
        {f"q{i}": [True, False, False] if i < 7 else [True, True, False] for i in range(8)}
    )
    (change,) = compare(
        after, before, name="b", current_repeated=after_repeated, baseline_repeated=before_repeated
    ).scorers
    assert change.passed_to_failed == 7  # 1 of 3 runs is no majority
    assert change.mcnemar_p == pytest.approx(2 / 2**7) and change.regressed
