"""The HTML report (`--genai-html`) of a real run, and the page in a real browser.

The run: a small project with scored cases over two prompt versions, a failing case, a crash,
traced spans (one with an error) and enough cases for two pages of rows; with and without
xdist. The browser: headless Chromium through Playwright, every request that is not file: or
data: blocked and recorded; no console error or warning may appear.

Needs Playwright (Python) and /usr/bin/chromium; without them the browser tests are skipped,
or fail when GENAI_REQUIRE_BROWSER is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_genai.report.html import write_html
from pytest_genai.report.json_report import load_report
from pytest_genai.results import CaseResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
MANY = 150
TOTAL = MANY + 6
HOSTILE = "</script><script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"

PROJECT = {
    "prompts/greeting/v1.txt": "Answer the customer's question: {{ question }}",
    "prompts/greeting/v2.txt": "Answer briefly and kindly: {{ question }}",
    "test_shop.py": f"""
import pytest
from pytest_genai import Feedback, assert_scored, load_prompt, scorer, scorers, start_span, trace

HOSTILE = {HOSTILE!r}


@trace(span_type="RETRIEVER")
def search(query):
    return [{{"page_content": f"facts about {{query}}", "doc_uri": f"help/{{query}}.md"}}]


@trace(span_type="TOOL")
def lookup(order_id):
    if order_id == "A-404":
        raise KeyError(order_id)
    return {{"status": "shipped"}}


@trace(span_type="AGENT")
def agent(question, version):
    prompt = load_prompt(f"greeting@{{version}}").format(question=question)
    facts = search(question)
    try:
        lookup("A-404" if "parcel" in question else "A-1")
    except KeyError:
        pass
    attributes = {{
        "gen_ai.request.model": "fake/model",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
    }}
    with start_span("chat fake/model", span_type="CHAT_MODEL", attributes=attributes) as span:
        span.set_inputs({{"messages": [{{"role": "user", "content": str(prompt)}}]}})
        answer = f"About {{question}}: {{facts[0]['page_content']}}"
        span.set_outputs({{"choices": [{{"role": "assistant", "content": answer}}]}})
    return answer


@scorer(threshold=0.5)
def overlap(outputs, expectations):
    words = set(expectations["expected_response"].split())
    return len(words & set(outputs.replace(":", " ").split())) / len(words)


QUESTIONS = {{
    "refund": ("refund", 1),
    "shipping": ("shipping", 1),
    "lost parcel": ("parcel", 2),
    "hours": ("closing time", 2),
}}


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_answers(question):
    expected, version = QUESTIONS[question]
    answer = agent(question, version)
    assert_scored(
        answer,
        [scorers.contains(expected), overlap],
        inputs={{"question": question}},
        expectations={{"expected_response": expected}},
    )


def test_crash(genai):
    genai.set_case(inputs={{"question": "crash"}})
    raise RuntimeError("the model is down")


def test_hostile(genai):
    genai.set_case(inputs={{"q": HOSTILE}}, outputs=HOSTILE)
    with start_span(HOSTILE, span_type="TOOL") as span:
        span.set_inputs({{"text": HOSTILE}})
    genai.record(Feedback(name="tone", value="yes", passed=True, rationale=HOSTILE))


@pytest.mark.parametrize("n", range({MANY}))
def test_many(genai, n):
    genai.record("ok", True)
""",
}


def write_project(root: Path) -> None:
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def page_data(text: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="genai-data">(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match.group(1))


def without_times(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for case in cases:
        case = dict(case, duration=None)
        case["feedback"] = [dict(f, duration=None) for f in case.get("feedback", [])]
        case["trace"] = [
            dict(s, start=None, duration=None, span_id=None, parent_id=None)
            for s in case.get("trace", [])
        ]
        kept.append(case)
    return kept


# -- the run ----------------------------------------------------------------------------------


@pytest.fixture
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """syrupy would take an in-process run inside an xdist worker for a worker too."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)


@pytest.mark.usefixtures("_not_an_xdist_worker")
def test_the_html_report_of_a_run(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    write_project(pytester.path)
    result = pytester.runpytest("--genai-report=r.json", "--genai-html=out/r.html", *xdist_args)
    result.assert_outcomes(passed=MANY + 4, failed=2)
    assert "INTERNALERROR" not in result.stdout.str()
    text = (pytester.path / "out" / "r.html").read_text(encoding="utf-8")
    data = page_data(text)

    report = load_report(pytester.path / "r.json")
    assert [CaseResult.model_validate(c) for c in data["cases"]] == report.cases
    # the page the option wrote and the one made from the JSON report hold the same cases
    write_html(pytester.path / "from_json.html", report)
    again = page_data((pytester.path / "from_json.html").read_text(encoding="utf-8"))
    assert again == data

    cases = {c["case_id"]: c for c in data["cases"]}
    assert len(cases) == TOTAL
    hours = cases["hours"]
    assert hours["outcome"] == "failed"
    assert hours["prompts"][0]["version"] == 2
    assert [s["name"] for s in hours["trace"]] == ["agent", "search", "lookup", "chat fake/model"]
    parcel = {s["name"]: s for s in cases["lost parcel"]["trace"]}
    assert "KeyError" in parcel["lookup"]["error"]
    assert parcel["chat fake/model"]["input_tokens"] == 12
    assert cases["test_crash"]["outcome"] == "error"
    assert data["verdicts"][data["cases"].index(hours)] == {
        "contains": "failed",
        "overlap": "failed",
    }
    assert 'id="overview"' in text and "test_shop.py::test_answers" in text


def test_the_same_page_with_and_without_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    write_project(pytester.path)
    pages = []
    for args in ([], ["-n", "2"]):
        pytester.runpytest("--genai-html=r.html", *args).assert_outcomes(passed=MANY + 4, failed=2)
        pages.append(page_data((pytester.path / "r.html").read_text(encoding="utf-8")))
    assert without_times(pages[0]["cases"]) == without_times(pages[1]["cases"])
    assert pages[0]["verdicts"] == pages[1]["verdicts"]


# -- the page in a browser --------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("html_project")
    write_project(root)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--genai-html=r.html"],
        cwd=root,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return root / "r.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _no_browser(f"Playwright is not installed ({exc})")
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _no_browser(reason: str) -> None:
    if os.environ.get("GENAI_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}; GENAI_REQUIRE_BROWSER is set")
    pytest.skip(f"{reason} (GENAI_REQUIRE_BROWSER=1 makes this an error)")


class Watched:
    """A page with everything it logged, threw and asked the network for."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def _request(self, request: Any) -> None:
        if not request.url.startswith(("file:", "data:")):
            self.outside.append(request.url)

    def count(self) -> str:
        return self.page.inner_text("#case-count")

    def rows(self) -> int:
        return self.page.locator("#case-rows tr.case-row").count()

    def row(self, nodeid: str) -> Any:
        return self.page.locator(f'#case-rows tr.case-row[data-nodeid="{nodeid}"]')


@pytest.fixture
def page(browser: Any, report_file: Path) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})

    def local_only(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    watched = Watched(context.new_page())
    watched.page.goto(report_file.as_uri())
    watched.page.wait_for_selector('body[data-ready="1"]', timeout=30_000)
    yield watched
    try:
        assert watched.errors == []
        assert watched.console == []
        assert watched.outside == []
    finally:
        context.close()


def test_the_page_renders_offline_and_pages_its_rows(page: Watched) -> None:
    assert page.count() == f"{TOTAL} of {TOTAL} cases"
    assert page.rows() == 100
    assert page.page.locator("#overview tr.overview-row").count() >= 5
    assert page.page.is_visible("#pager")
    assert page.page.inner_text("#page-info") == "page 1 of 2"
    page.page.click("#page-next")
    assert page.rows() == TOTAL - 100
    assert page.page.inner_text("#page-info") == "page 2 of 2"
    assert page.page.is_disabled("#page-next")
    page.page.click("#page-first")
    assert page.rows() == 100
    assert page.page.evaluate("window.__pwned") is None


def test_filters_and_search_change_the_rows_and_the_count(page: Watched) -> None:
    p = page.page
    p.select_option("#filter-suite", "test_shop.py::test_answers")
    assert (page.count(), page.rows()) == (f"4 of {TOTAL} cases", 4)
    assert p.is_hidden("#pager")

    p.select_option("#filter-outcome", "failed")
    assert (page.count(), page.rows()) == (f"1 of {TOTAL} cases", 1)
    assert page.row("test_shop.py::test_answers[hours]").count() == 1

    p.select_option("#filter-suite", "")
    p.select_option("#filter-outcome", "")
    p.select_option("#filter-prompt", "greeting v2")
    names = p.locator("#case-rows tr.case-row").evaluate_all(
        "rows => rows.map(r => r.dataset.nodeid)"
    )
    assert sorted(names) == [
        "test_shop.py::test_answers[hours]",
        "test_shop.py::test_answers[lost parcel]",
    ]
    p.select_option("#filter-prompt", "none")
    assert page.count() == f"{TOTAL - 4} of {TOTAL} cases"
    p.select_option("#filter-prompt", "")

    # with a scorer chosen, the outcome is that scorer's verdict
    p.select_option("#filter-scorer", "overlap")
    assert page.count() == f"4 of {TOTAL} cases"
    p.select_option("#filter-outcome", "failed")
    assert page.count() == f"1 of {TOTAL} cases"
    p.select_option("#filter-scorer", "")
    p.select_option("#filter-outcome", "")

    search = p.locator("#search")
    search.press_sequentially("parc")
    assert (page.count(), page.rows()) == (f"1 of {TOTAL} cases", 1)
    search.fill("")
    search.press_sequentially("closing time")  # an expectation
    assert page.row("test_shop.py::test_answers[hours]").count() == 1
    assert page.count() == f"1 of {TOTAL} cases"
    search.fill("model is down")  # an error
    assert page.row("test_shop.py::test_crash").count() == 1
    search.fill("no such text anywhere")
    assert (page.count(), page.rows()) == (f"0 of {TOTAL} cases", 0)
    search.fill("")
    assert page.count() == f"{TOTAL} of {TOTAL} cases"


def test_a_case_opens_with_its_verdicts_and_trace(page: Watched) -> None:
    p = page.page
    p.locator("#search").fill("lost parcel")
    page.row("test_shop.py::test_answers[lost parcel]").click()
    detail = p.locator("#case-rows .case-detail")
    assert detail.count() == 1
    text = detail.inner_text()
    assert "lost parcel" in text and "parcel" in text
    assert "overlap" in text and "contains" in text
    assert "greeting" in text and "v2" in text

    spans = detail.locator(".span-row")
    assert spans.count() == 4
    assert spans.evaluate_all("rows => rows.map(r => r.dataset.spanId.length > 0)") == [True] * 4
    failing = detail.locator(".span-row.span-error")
    assert failing.count() == 1 and "lookup" in failing.inner_text()

    chat = detail.locator(".span-row", has_text="chat fake/model")
    assert "12 → 7" in chat.inner_text()
    chat.click()
    span_detail = detail.locator(".span-detail")
    assert span_detail.count() == 1
    shown = span_detail.inner_text()
    assert "Answer briefly and kindly: lost parcel" in shown  # the span's inputs
    assert "fake/model" in shown

    failing.click()
    assert detail.locator(".span-detail").count() == 2
    assert "KeyError" in detail.locator(".span-row.span-error + .span-detail").inner_text()

    chat.click()
    assert detail.locator(".span-detail").count() == 1
    page.row("test_shop.py::test_answers[lost parcel]").click()
    assert p.locator("#case-rows .case-detail").count() == 0

    # the whole report, with this case and its model call open
    p.locator("#search").fill("")
    page.row("test_shop.py::test_answers[lost parcel]").click()
    p.locator("#case-rows .case-detail .span-row", has_text="chat fake/model").click()
    artifacts = Path(os.environ.get("GENAI_ARTIFACTS_DIR") or REPO / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(artifacts / "html-report.png"), full_page=True)


def test_hostile_text_is_shown_as_text(page: Watched) -> None:
    p = page.page
    p.locator("#search").fill("window.__pwned")
    assert page.rows() == 1
    p.locator("#case-rows tr.case-row").click()
    detail = p.locator("#case-rows .case-detail")
    detail.locator(".span-row").first.click()
    assert HOSTILE in detail.inner_text()
    assert detail.locator("img, script").count() == 0
    assert p.evaluate("window.__pwned") is None
