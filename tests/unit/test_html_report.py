"""The HTML report as text: self-contained, its data safe inside the page and true to the
report, and the sections server-rendered with the right figures. The page's behaviour in a
browser is tested in tests/integration/test_html_report.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_genai.report.aggregate import aggregate, totals
from pytest_genai.report.baseline import BaselineComparison, CaseChange, ScorerChange
from pytest_genai.report.gates import GateSpec, measure
from pytest_genai.report.html import render_html, write_html
from pytest_genai.report.json_report import Report, RunInfo
from pytest_genai.report.repeats import RepeatedCase
from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    FeedbackError,
    PromptUse,
    SpanRecord,
)

HOSTILE = "</script><script>alert(1)</script><!-- \u2028\u2029 & <b>"
QA = "tests/test_qa.py::test_answers"
GREET = "tests/test_qa.py::test_greeting"
AGENT = "tests/test_agent.py::test_agent"
V1 = PromptUse(name="greeting", version=1, alias="production", digest="a1" * 32)
V2 = PromptUse(name="greeting", version=2, digest="b2" * 32)


def judge(verdict: str, rationale: str, *, cached: bool = False) -> Feedback:
    return Feedback(
        name="correctness",
        value=verdict,
        passed=verdict == "yes",
        rationale=rationale,
        source=AssessmentSource(
            source_type=AssessmentSourceType.LLM_JUDGE, source_id="openai/gpt-4o-mini"
        ),
        cost=0.00012,
        input_tokens=120,
        output_tokens=30,
        metadata={"cached": cached, "requests": 0 if cached else 1},
    )


def similarity(value: float) -> Feedback:
    return Feedback(
        name="similarity", value=value, passed=value >= 0.5, pass_rule=">= 0.5", rationale=None
    )


def trace(name: str = "answer", *, tool_error: str | None = None) -> list[SpanRecord]:
    return [
        SpanRecord(name=name, span_id="s1", type="AGENT", start=0.0, duration=0.5),
        SpanRecord(
            name="search", span_id="s2", parent_id="s1", type="RETRIEVER", start=0.01,
            duration=0.05, inputs={"query": "capital"}, outputs=[{"page_content": "Paris"}],
        ),
        SpanRecord(
            name="chat openai/gpt-4o-mini", span_id="s3", parent_id="s1", type="CHAT_MODEL",
            start=0.07, duration=0.4, model="openai/gpt-4o-mini", input_tokens=10,
            output_tokens=20, cost=1.35e-05,
            inputs={"messages": [{"role": "user", "content": "capital?"}]},
            outputs={"choices": [{"role": "assistant", "content": "Paris"}]},
            attributes={"gen_ai.system": "openai"},
        ),
        SpanRecord(
            name="lookup", span_id="s4", parent_id="s3", type="TOOL", start=0.2, duration=0.01,
            error=tool_error,
        ),
    ]  # fmt: skip


def qa_case(case_id: str, *feedback: Feedback, outcome: str = "passed", **extra: Any) -> CaseResult:
    return CaseResult(
        nodeid=f"{QA}[{case_id}]",
        suite=QA,
        case_id=case_id,
        inputs={"question": f"capital of {case_id}?"},
        outputs=f"answer about {case_id}",
        expectations={"expected_response": case_id.title()},
        feedback=list(feedback),
        outcome=outcome,  # type: ignore[arg-type]
        duration=0.25,
        prompts=extra.pop("prompts", [V1]),
        trace=trace(),
        **extra,
    )


def cases() -> list[CaseResult]:
    return [
        qa_case("paris", judge("yes", "names Paris"), similarity(0.9)),
        qa_case("rome", judge("yes", "names Rome", cached=True), similarity(0.6)),
        qa_case("oslo", judge("no", "says Bergen"), similarity(0.2), outcome="failed"),
        qa_case("boom", outcome="error", error="RuntimeError: model down", prompts=[]),
        CaseResult(
            nodeid=f"{GREET}[hi]",
            suite=GREET,
            case_id="hi",
            outputs="Hello!",
            feedback=[Feedback(name="exact_match", value=True, passed=True)],
            prompts=[V2],
        ),
        CaseResult(nodeid=f"{GREET}[later]", suite=GREET, case_id="later", outcome="skipped"),
        CaseResult(
            nodeid=f"{AGENT}[{HOSTILE}]",
            suite=AGENT,
            case_id=HOSTILE,
            inputs={"q": HOSTILE},
            outputs=HOSTILE,
            feedback=[
                Feedback(
                    name="exact_match",
                    value=False,
                    passed=False,
                    rationale=HOSTILE,
                    error=None,
                ),
                Feedback(
                    name="tone",
                    error=FeedbackError(error_type="ValueError", message=HOSTILE),
                ),
            ],
            outcome="failed",
            trace=trace(HOSTILE, tool_error="KeyError: 'A-9'"),
        ),
    ]


def run_info() -> RunInfo:
    return RunInfo(
        started_at="2026-11-26T10:00:00+00:00",
        finished_at="2026-11-26T10:00:12+00:00",
        duration=12.5,
        exit_status=1,
        plugin_version="0.1.0",
        pytest_version="9.2.0",
        python_version="3.11.7",
        platform="Linux",
        git_commit="0123456789abcdef0123456789abcdef01234567",
        pytest_args=["--genai-html=r.html"],
        judge_model="openai/gpt-4o-mini",
        merged_from=["shard-1.json", "shard-2.json"],
    )


def make_report(found: list[CaseResult] | None = None, **extra: Any) -> Report:
    found = cases() if found is None else found
    return Report(
        run=run_info(), totals=totals(found), summaries=aggregate(found), cases=found, **extra
    )


def baseline() -> BaselineComparison:
    return BaselineComparison(
        baseline="main.json",
        baseline_commit="fedcba9876543210fedcba9876543210fedcba98",
        baseline_started_at="2026-11-25T09:00:00+00:00",
        scorers=[
            ScorerChange(
                suite=QA, scorer="correctness", cases_before=20, cases_after=20, shared=20,
                pass_rate_before=0.9, pass_rate_after=0.6, pass_rate_delta=-0.3,
                passed_to_failed=6, failed_to_passed=0, mcnemar_p=0.03125, regressed=True,
                significant=True,
            ),
            ScorerChange(
                suite=QA, scorer="similarity", shared=20, paired=20, mean_before=0.5,
                mean_after=0.7, mean_delta=0.2, mean_diff=0.2, mean_diff_low=0.1,
                mean_diff_high=0.3, bootstrap_p=0.0004, improved=True, significant=True,
            ),
            ScorerChange(suite=GREET, scorer="exact_match", shared=1, pass_rate_before=1.0,
                         pass_rate_after=1.0, pass_rate_delta=0.0, mcnemar_p=1.0),
        ],
        regressed_cases=[
            CaseChange(nodeid=f"{QA}[oslo]", suite=QA, case_id="oslo", scorer="correctness",
                       before="passed", after="failed"),
        ],
        new_cases=[f"{AGENT}[{HOSTILE}]"],
        removed_cases=[f"{QA}[madrid]"],
    )  # fmt: skip


class Page(HTMLParser):
    """The tags of a page with their attributes, the text of its scripts and styles, and
    the text of elements by id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._raw: list[str] | None = None
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw = []
            self._stack.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._raw is not None:
            _, attrs = self._stack.pop()
            text = "".join(self._raw)
            if tag == "script":
                self.scripts.append((attrs, text))
            else:
                self.styles.append(text)
            self._raw = None


def data_of(page: Page) -> dict[str, Any]:
    [text] = [text for attrs, text in page.scripts if attrs.get("id") == "genai-data"]
    return json.loads(text)


def section(text: str, opening: str, closing: str = "</section>") -> str:
    start = text.index(opening)
    return text[start : text.index(closing, start)]


def cells(row_html: str) -> list[str]:
    found = re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


# -- self-contained and safe ------------------------------------------------------------------


def test_the_page_loads_nothing_from_anywhere() -> None:
    text = render_html(make_report(baseline=baseline()))
    page = Page(text)
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "srcset", "data", "poster"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:")), (tag, name, value)
    links = [attrs for tag, attrs in page.tags if tag == "link"]
    assert links == [{"rel": "icon", "href": "data:,"}]
    assert not [attrs for _, attrs in page.scripts if "src" in attrs]
    [css] = page.styles
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    code = next(text for attrs, text in page.scripts if "type" not in attrs)
    for word in ("fetch(", "XMLHttpRequest", "WebSocket", "import(", "innerHTML", "eval("):
        assert word not in code
    assert "http://" not in text.split('id="genai-data"')[0].replace(HOSTILE, "")
    [csp] = [a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp is not None and csp.startswith("default-src 'none'")
    assert "unsafe-inline" not in csp


def test_the_data_parses_back_to_the_cases() -> None:
    report = make_report()
    data = data_of(Page(render_html(report)))
    assert [CaseResult.model_validate(c) for c in data["cases"]] == report.cases
    statuses = dict(zip((c.case_id for c in report.cases), data["verdicts"], strict=True))
    assert statuses["paris"] == {"correctness": "passed", "similarity": "passed"}
    assert statuses["oslo"] == {"correctness": "failed", "similarity": "failed"}
    # as the quality table counts it: a failing case without the scorer's verdict is an error
    assert statuses["boom"] == {"correctness": "error", "similarity": "error"}
    assert statuses["later"] == {"exact_match": "skipped"}
    assert statuses[HOSTILE] == {"exact_match": "failed", "tone": "error"}


def test_hostile_text_stays_text() -> None:
    text = render_html(make_report(baseline=baseline()))
    assert text.count("<script") == 2
    assert text.count("</script") == 2
    assert text.count("</style") == 1
    assert "<script>alert(1)" not in text
    assert "<b>" not in text
    data_script = text[text.index('id="genai-data"') : text.index("</script>")]
    data_script = data_script.split(">", 1)[1]
    for char in "<>&\u2028\u2029":
        assert char not in data_script
    # the server-rendered parts escape it (select options, overview and baseline rows)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text.split('id="genai-data"')[0]
    assert data_of(Page(text))["cases"][-1]["inputs"] == {"q": HOSTILE}


# -- the sections -----------------------------------------------------------------------------


def test_header_shows_the_run_and_the_totals() -> None:
    text = render_html(make_report())
    header = section(text, '<header class="page-header">', "</header>")
    for expected in (
        "2026-11-26 10:00:00+00:00",
        "12.50 s",
        "1 (tests failed)",
        "0123456789ab",
        "openai/gpt-4o-mini",
        "pytest-genai 0.1.0 · pytest 9.2.0 · Python 3.11.7",
        "shard-1.json, shard-2.json",
    ):
        assert expected in header, expected
    totals_found = dict(
        (label, value)
        for value, label in re.findall(
            r'<span class="total-value">(.*?)</span><span class="total-label">(.*?)</span>', header
        )
    )
    assert totals_found == {
        "cases": "7",
        "passed": "3",
        "failed": "2",
        "errors": "1",
        "skipped": "1",
        "judge calls": "2",
        "tokens": "300",
        "cost": "$0.00024",
        "cached": "1",
    }


def test_overview_rows_figures_and_charts() -> None:
    text = render_html(make_report())
    overview = section(text, '<table id="overview"', "</table>")
    rows = {
        tuple(cells(row)[:3]): (cells(row), row)
        for row in re.findall(r'<tr class="overview-row">(.*?)</tr>', overview, re.S)
    }
    assert set(rows) == {
        (QA, "greeting v1", "correctness"),
        (QA, "greeting v1", "similarity"),
        (GREET, "greeting v2", "exact_match"),
        (AGENT, "", "exact_match"),
        (AGENT, "", "tone"),
    }
    found, html = rows[(QA, "greeting v1", "similarity")]
    # cases, passed, failed, errors, skipped
    assert found[3:8] == ["4", "2", "1", "1", "0"]
    assert found[8].startswith("50.0%") and "15.0%–85.0%" in found[8]
    assert "mean 0.5667" in found[9] and "min 0.2" in found[9]
    # numeric values: a histogram of 3 values in bins (plus the verdicts' strip)
    bins = re.findall(r'<rect class="bin"[^>]*><title>[^<]*: (\d+)</title>', html)
    assert sum(int(n) for n in bins) == 3
    assert 'class="seg st-passed"' in html
    _, html = rows[(QA, "greeting v1", "correctness")]
    assert 'class="bin"' not in html
    assert re.search(r'<rect class="seg st-passed"[^>]*><title>2 passed</title>', html)
    assert re.search(r'<rect class="seg st-error"[^>]*><title>1 error</title>', html)
    assert 'aria-label="pass rate 50.0%, 95% CI 15.0%–85.0%"' in html
    found, _ = rows[(QA, "greeting v1", "correctness")]
    assert "2 calls · 300 tokens · $0.00024" in found


def test_overview_with_many_rows_shows_the_first_and_hides_the_rest() -> None:
    many = [
        CaseResult(
            nodeid=f"t.py::test_{i}",
            suite=f"t.py::test_{i}",
            case_id=f"test_{i}",
            feedback=[Feedback(name="ok", value=True, passed=True)],
        )
        for i in range(150)
    ]
    text = render_html(make_report(many))
    assert text.count('<tr class="overview-row">') == 100
    assert text.count('<tr class="overview-row" hidden>') == 50
    assert 'id="overview-more"' in text


def test_gates_and_repeated_cases() -> None:
    found = cases()
    gates = [
        measure(QA, GateSpec(scorer="correctness", threshold=0.9), found),
        measure(QA, GateSpec(scorer="similarity", statistic="mean", threshold=0.3), found),
    ]
    repeated = [
        RepeatedCase(
            suite=QA,
            case_id="paris",
            rule="majority",
            runs=["paris-r1", "paris-r2", "paris-r3"],
            run_passed=[True, False, True],
            passed=True,
        ),
        RepeatedCase(
            suite=QA, case_id="rome", rule="all", runs=["rome-r1"], run_passed=[True], passed=True
        ),
    ]
    text = render_html(make_report(found, gates=gates, repeated_cases=repeated))
    gate_rows = [cells(r) for r in re.findall(r"<tr class=\"gate-row\">(.*?)</tr>", text, re.S)]
    assert gate_rows == [
        ["FAILED", QA, "correctness>=0.90", gates[0].describe()],
        ["PASSED", QA, "similarity:mean>=0.30", gates[1].describe()],
    ]
    assert "correctness pass rate 50.0% (95% CI 15.0%-85.0%) over 4 cases" in gate_rows[0][3]
    repeats = section(text, '<section id="repeats">')
    assert "2 repeated cases, 1 flaky" in repeats
    flaky = [cells(r) for r in re.findall(r'<tr class="flaky-row">(.*?)</tr>', repeats, re.S)]
    assert flaky == [["passed", QA, "paris", repeated[0].describe()]]


def test_sections_without_data_are_left_out() -> None:
    text = render_html(make_report())
    for anchor in ('id="gates"', 'id="repeats"', 'id="baseline"'):
        assert anchor not in text


def test_baseline_rows_badges_and_case_lists() -> None:
    text = render_html(make_report(baseline=baseline()))
    part = section(text, '<section id="baseline">')
    assert "main.json" in part and "commit fedcba987654" in part
    assert '<span class="badge st-failed">1 regressed</span>' in part
    rows = [cells(r) for r in re.findall(r'<tr class="change-row">(.*?)</tr>', part, re.S)]
    assert rows[0] == [
        QA, "correctness", "90.0% → 60.0%", "-30.0 pts", "0.0312", "", "", "", "", "20",
        "regressed",
    ]  # fmt: skip
    assert rows[1] == [
        QA, "similarity", "", "", "", "0.5 → 0.7", "+0.2", "<0.001", "[+0.1, +0.3]", "20",
        "improved",
    ]  # fmt: skip
    assert rows[2][-1] == "no significant change"
    regressed = section(part, 'id="regressed-cases"', "</details>")
    assert f'data-nodeid="{QA}[oslo]"' in regressed and "correctness" in regressed
    assert "1 new case " in part and "1 removed case " in part
    assert f"{QA}[madrid]" in section(part, 'id="removed-cases"', "</details>")


def test_filter_options() -> None:
    page = Page(render_html(make_report()))
    options: dict[str, list[str | None]] = {}
    current = None
    for tag, attrs in page.tags:
        if tag == "select":
            current = attrs["id"]
            options[current] = []
        elif tag == "option" and current is not None:
            options[current].append(attrs.get("value"))
    assert options["filter-suite"] == ["", AGENT, QA, GREET]
    assert options["filter-scorer"] == ["", "correctness", "exact_match", "similarity", "tone"]
    assert options["filter-outcome"] == ["", "passed", "failed", "error", "skipped", "info"]
    assert options["filter-prompt"] == ["", "greeting v1", "greeting v2", "none"]
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"search", "case-count", "case-rows", "overview"} <= ids


def test_an_empty_report() -> None:
    text = render_html(make_report([]))
    assert "No scores were recorded." in text
    assert data_of(Page(text)) == {"cases": [], "verdicts": []}


def test_write_html(tmp_path: Path) -> None:
    report = make_report()
    path = tmp_path / "out" / "report.html"
    write_html(path, report)
    assert path.read_text(encoding="utf-8") == render_html(report)


def test_ten_thousand_cases_with_traces() -> None:
    found = []
    for i in range(10_000):
        suite = f"tests/test_big.py::test_{i % 5}"
        found.append(
            CaseResult(
                nodeid=f"{suite}[c{i}]",
                suite=suite,
                case_id=f"c{i}",
                inputs={"question": f"question {i}"},
                outputs=f"answer {i} " * 10,
                feedback=[judge("yes" if i % 7 else "no", "fine"), similarity((i % 100) / 100)],
                outcome="passed" if i % 7 else "failed",
                prompts=[V1 if i % 2 else V2],
                trace=trace(),
            )
        )
    report = make_report(found)
    text = render_html(report)
    assert len(Page(text[: text.index('<script type="application/json"')]).tags) < 2000
    assert len(data_of(Page(text))["cases"]) == 10_000
    # the page holds the cases once, leaner than the JSON report's own encoding
    assert len(text) < len(report.model_dump_json()) + 200_000


def test_loading_the_plugin_does_not_import_the_html_report() -> None:
    code = (
        "import sys, pytest_genai, pytest_genai.plugin, pytest_genai.report.json_report\n"
        "print(sorted(m for m in ('jinja2', 'pytest_genai.report.html') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("exit_status", [0, 2, 42])
def test_exit_status_is_named_when_known(exit_status: int) -> None:
    report = make_report()
    report.run.exit_status = exit_status
    header = section(render_html(report), '<header class="page-header">', "</header>")
    expected = {0: "0 (all tests passed)", 2: "2 (interrupted)", 42: "<dd>42</dd>"}[exit_status]
    assert expected in header
