from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_genai.report.aggregate import NO_SCORER, aggregate, statistics, totals, wilson_interval
from pytest_genai.report.github import markdown
from pytest_genai.report.json_report import git_commit, redact_args, write_atomic
from pytest_genai.report.junit import case_properties, suite_properties
from pytest_genai.report.table import render
from pytest_genai.results import CaseResult, Feedback, FeedbackError


def case(
    case_id: str, *feedback: Feedback, outcome: str = "passed", suite: str = "t.py::test_a"
) -> CaseResult:
    return CaseResult(
        nodeid=f"{suite}[{case_id}]",
        suite=suite,
        case_id=case_id,
        feedback=list(feedback),
        outcome=outcome,  # type: ignore[arg-type]
    )


def fb(name: str, value: object, passed: bool | None) -> Feedback:
    return Feedback(name=name, value=value, passed=passed)  # type: ignore[arg-type]


def err(name: str) -> Feedback:
    return Feedback(name=name, error=FeedbackError(error_type="ValueError", message="boom"))


def test_wilson_interval_against_hand_computed_values() -> None:
    # 8 of 10 at 95%: the textbook Wilson interval is [0.4902, 0.9433].
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 5)[0] == 0.0
    assert wilson_interval(5, 5)[1] == 1.0
    with pytest.raises(ValueError, match="at least one"):
        wilson_interval(0, 0)


def test_statistics() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    stats = statistics(values, ["mean", "min", "max", "median", "p90", "variance"])
    assert stats == {
        "mean": 2.5,
        "min": 1.0,
        "max": 4.0,
        "median": 2.5,
        "p90": 3.7,
        "variance": 1.25,
    }
    assert statistics([], ["mean"]) == {}


def test_errors_and_skips_are_never_hidden() -> None:
    cases = [case(f"p{i}", fb("acc", True, True)) for i in range(3)]
    cases += [case(f"e{i}", outcome="error") for i in range(7)]
    cases.append(case("s", outcome="skipped"))
    [row] = aggregate(cases)
    assert (row.cases, row.passed, row.errors, row.skipped) == (11, 3, 7, 1)
    assert row.pass_rate == 0.3


def test_per_scorer_counts_and_stats() -> None:
    cases = [
        case("a", fb("acc", True, True), fb("score", 0.5, True)),
        case("b", fb("acc", False, False), fb("score", 0.25, False), outcome="failed"),
        case("c", err("acc"), fb("score", 1.0, True), outcome="error"),
        case("d", fb("note", "long", None)),
    ]
    rows = {r.scorer: r for r in aggregate(cases)}
    assert set(rows) == {"acc", "note", "score"}
    acc = rows["acc"]
    assert (acc.cases, acc.passed, acc.failed, acc.errors) == (3, 1, 1, 1)
    assert acc.pass_rate == pytest.approx(1 / 3, abs=1e-6)
    assert acc.stats == {}
    score = rows["score"]
    assert (score.passed, score.failed) == (2, 1)
    assert score.stats == {"mean": pytest.approx(0.583333), "min": 0.25}
    # "note" was only reached by case d; b and c stopped without it, so they count as errors.
    note = rows["note"]
    assert (note.cases, note.info, note.errors, note.pass_rate) == (3, 1, 2, 0.0)


def test_suite_without_any_score_still_shows_its_errors() -> None:
    [row] = aggregate([case("x", outcome="error", suite="t.py::test_b")])
    assert (row.scorer, row.errors, row.pass_rate) == (NO_SCORER, 1, 0.0)


def test_rows_are_sorted_whatever_the_arrival_order() -> None:
    cases = [
        case("1", fb("b", True, True), suite="z.py::t"),
        case("2", fb("a", True, True), suite="a.py::t"),
    ]
    assert [(r.suite, r.scorer) for r in aggregate(cases)] == [("a.py::t", "a"), ("z.py::t", "b")]
    assert aggregate(cases) == aggregate(list(reversed(cases)))


def test_totals() -> None:
    t = totals(
        [case("a", fb("x", 1, None)), case("b", outcome="failed"), case("c", outcome="skipped")]
    )
    assert (t.cases, t.passed, t.failed, t.skipped, t.feedback) == (3, 1, 1, 1, 1)


def test_junit_properties() -> None:
    long = "r" * 2000
    c = case("a", Feedback(name="acc", value=False, passed=False, rationale=long), err("judge"))
    props = dict(case_properties(c))
    assert props["genai.outcome"] == "passed"
    assert props["genai.acc.value"] == "False"
    assert props["genai.acc.passed"] == "false"
    assert props["genai.acc.rationale"].startswith("r" * 1000 + "…[truncated 1000")
    assert props["genai.judge.error"] == "ValueError: boom"
    summary = dict(suite_properties(aggregate([c]), totals([c])))
    assert summary["genai.cases"] == "1"
    assert summary["genai.t.py::test_a.acc.pass_rate"] == "0"


def test_tables_render() -> None:
    cases = [case("a", fb("acc", True, True)), case("b", fb("acc", False, False))]
    text = render(aggregate(cases), "plain")
    assert "acc" in text and "50.0%" in text and "9.5%-90.5%" in text


def test_markdown_respects_its_budget() -> None:
    cases = [case(str(i), fb(f"scorer_{i}", True, True), suite=f"s{i}.py::t") for i in range(200)]
    text = markdown(aggregate(cases), totals(cases), budget=4000)
    assert len(text.encode()) <= 4000
    assert "more rows not shown" in text
    assert text.startswith("### genai quality")
    full = markdown(aggregate(cases), totals(cases))
    assert "not shown" not in full
    assert len(re.findall(r"^\| s\d+\.py::t", full, re.MULTILINE)) == 200


def test_redact_args() -> None:
    args = [
        "-q",
        "--api-key=sk-123",
        "--password",
        "hunter2",
        "-o",
        "auth_token=abc",
        "--header",
        "Authorization: Bearer sk-xyz123456789",
        "https://user:pw1234@example.com/x",
        "tests/test_auth.py::test_a[x=1]",
        "--genai-report=r.json",
    ]
    assert redact_args(args) == [
        "-q",
        "--api-key=***",
        "--password",
        "***",
        "-o",
        "auth_token=***",
        "--header",
        "Authorization: Bearer ***",
        "https://user:***@example.com/x",
        "tests/test_auth.py::test_a[x=1]",
        "--genai-report=r.json",
    ]


def test_git_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    assert git_commit(tmp_path) is None
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    assert git_commit(tmp_path) == "abc123"


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.json"
    write_atomic(target, json.dumps({"a": 1}))
    write_atomic(target, json.dumps({"a": 2}))
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_junit_property_values_are_xml_safe() -> None:
    c = case("a", Feedback(name="acc", value="<b>&", passed=None, rationale='say "hi"'))
    root = ET.Element("properties")
    for name, value in case_properties(c):
        ET.SubElement(root, "property", name=name, value=value)
    assert ET.fromstring(ET.tostring(root)).find("property[@name='genai.acc.value']") is not None


def test_plain_table_layout() -> None:
    cases = [case("a", fb("acc", True, True)), case("b", fb("acc", 0.25, None), suite="u.py::t")]
    header, rule, first, second = render(aggregate(cases), "plain").splitlines()
    assert header.split() == [
        "suite",
        "scorer",
        "cases",
        "passed",
        "failed",
        "errors",
        "skipped",
        "info",
        "pass",
        "rate",
        "95%",
        "CI",
        "mean",
        "min",
    ]
    assert set(rule) == {"-", " "}
    assert len(first) <= len(rule)
    assert first.startswith("t.py::test_a  acc")
    assert first.split()[2:9] == ["1", "1", "0", "0", "0", "0", "100.0%"]
    assert second.split()[-3:] == ["-", "0.25", "0.25"]
    # numbers are right-aligned under their headers
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    start, end = spans[3]
    assert header[start:end] == "passed"
    assert first[start:end] == "     1"


def test_money_and_cost_text() -> None:
    from pytest_genai.report.aggregate import JudgeUsage
    from pytest_genai.report.table import cost_text, money

    assert [money(x) for x in (0.0000117, 0.0012, 0.0, 1.5, 1234.5)] == [
        "$0.000012",
        "$0.0012",
        "$0",
        "$1.50",
        "$1,234.50",
    ]
    assert cost_text(JudgeUsage(judge_calls=2, cost=0.002)) == "$0.002"
    assert cost_text(JudgeUsage(judge_calls=2, cost=0.002, unpriced_calls=1)) == "$0.002+?"
    assert cost_text(JudgeUsage(judge_calls=2, unpriced_calls=2)) == "?"
    assert cost_text(JudgeUsage(judge_errors=1)) == "-"


def test_judge_usage_counts() -> None:
    from pytest_genai.results import AssessmentSource, AssessmentSourceType

    judge = AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="m")
    error = FeedbackError(error_type="JudgeError", message="x")
    answered = Feedback(name="j", value="yes", passed=True, source=judge, input_tokens=5)
    priced = Feedback(name="j", value="no", passed=False, source=judge, cost=0.5, input_tokens=1)
    unreadable = Feedback(
        name="j", error=error, source=judge, input_tokens=3, metadata={"requests": 2}
    )
    refused = Feedback(name="j", error=error, source=judge)  # nothing was asked
    t = totals([case("a", answered, priced, unreadable, refused)])
    assert (t.judge_calls, t.judge_errors, t.input_tokens) == (3, 2, 9)
    assert (t.cost, t.unpriced_calls) == (0.5, 2)


@pytest.mark.parametrize(
    ("rule", "passed", "runs", "expected"),
    [
        ("all", 3, 3, True),
        ("all", 2, 3, False),
        ("any", 1, 3, True),
        ("any", 0, 3, False),
        ("majority", 2, 3, True),
        ("majority", 2, 4, False),
        ("rate>=0.5", 2, 4, True),
        ("rate>=0.75", 2, 4, False),
        ("rate>=1", 4, 4, True),
        ("all", 0, 0, False),
    ],
)
def test_pass_rules(rule: str, passed: int, runs: int, expected: bool) -> None:
    from pytest_genai.report.repeats import check_rule, decide

    assert decide(check_rule(rule), passed, runs) is expected


@pytest.mark.parametrize("rule", ["best", "rate>1.5", "rate>=2", "", "ALL"])
def test_unknown_pass_rules(rule: str) -> None:
    from pytest_genai.report.repeats import check_rule

    with pytest.raises(ValueError, match="use 'all', 'any'"):
        check_rule(rule)
