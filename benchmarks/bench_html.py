"""Measure the HTML report (`--genai-html`) at scale: rendering it, its size, and the page in
headless Chromium.

A synthetic `Report` of N cases (default 10,000) over 5 suites and 2 prompt versions; each case
has 3 verdicts (an LLM judge's with a rationale, a numeric score with a threshold, a boolean)
and a trace of 8 spans (an agent over a retriever, two chat-model calls with inputs and outputs
of about 500 characters each, two tools, a chain and a parser). Printed, medians of the runs:

(a) `render_html(report)` in this process, seconds; the file's size in MB (and what the
    JSON report of the same run takes, for reference);
(b) in headless Chromium (/usr/bin/chromium through Playwright; every request that is not
    file: refused), from navigation start to `body[data-ready="1"]` (the page's script has
    parsed the data and shown the first page of rows), with the navigation timing's
    `domInteractive` and the JS heap after loading;
(c) one search keystroke: the time from an `input` event on `#search` to the rows updated and
    laid out (the event handler runs synchronously; layout forced by reading a size), the first
    keystroke (which builds each case's search text) apart from the next ones;
(d) a filter change (`#filter-suite`, then `#filter-scorer` + `#filter-outcome`), the same way;
(e) opening a case (its detail with the 8-span waterfall), the same way.

With `--suites-per-case` it also measures a run whose every case is a suite of its own (the
shape of plain tests that record scores: an overview of 3 rows per case).

Run from the repository root: `.venv/bin/python benchmarks/bench_html.py [--cases N] [--runs R]`
(`--quick` for 1,000 cases and 3 runs). The page is written to
`benchmarks/_generated/html/report.html`. The machine should otherwise be idle.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GENERATED = HERE / "_generated" / "html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SUITES = 5

sys.path.insert(0, str(REPO))

from pytest_genai.report.aggregate import aggregate, totals  # noqa: E402
from pytest_genai.report.html import render_html  # noqa: E402
from pytest_genai.report.json_report import Report, RunInfo  # noqa: E402
from pytest_genai.results import (  # noqa: E402
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    PromptUse,
    SpanRecord,
)

WORDS = [
    "order", "refund", "parcel", "delivery", "invoice", "account", "password", "shipping",
    "return", "warehouse", "courier", "customer", "support", "policy", "window", "days",
    "working", "label", "printer", "address", "postcode", "weekend", "express", "standard",
    "tracking", "number", "payment", "card", "transfer", "receipt", "discount", "voucher",
]  # fmt: skip

# -- the synthetic report ---------------------------------------------------------------------


def text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    length = 0
    while length < chars:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:chars]


def spans(rng: random.Random, question: str, answer: str) -> list[SpanRecord]:
    t = 0.0

    def at(duration: float) -> tuple[float, float]:
        nonlocal t
        start = t
        t += duration
        return round(start, 6), round(duration, 6)

    start, _ = at(0.0)
    chat = {"gen_ai.system": "openai", "gen_ai.request.temperature": 0}
    s1, d1 = at(rng.uniform(0.01, 0.05))
    s2, d2 = at(rng.uniform(0.3, 0.9))
    s3, d3 = at(rng.uniform(0.001, 0.02))
    s4, d4 = at(rng.uniform(0.001, 0.02))
    s5, d5 = at(rng.uniform(0.3, 0.9))
    s6, d6 = at(0.001)
    return [
        SpanRecord(name="support_agent", span_id="a0", type="AGENT", start=start,
                   duration=t, inputs={"question": question}, outputs=answer),
        SpanRecord(name="search_help", span_id="a1", parent_id="a0", type="RETRIEVER",
                   start=s1, duration=d1, inputs={"query": question},
                   outputs=[{"page_content": text(rng, 200), "doc_uri": "help/returns.md"}]),
        SpanRecord(name="plan", span_id="a2", parent_id="a0", type="CHAIN", start=s2,
                   duration=d2 + d3 + d4),
        SpanRecord(name="chat openai/gpt-4o-mini", span_id="a3", parent_id="a2",
                   type="CHAT_MODEL", start=s2, duration=d2, model="openai/gpt-4o-mini",
                   input_tokens=rng.randint(200, 400), output_tokens=rng.randint(50, 150),
                   cost=0.00012, inputs={"messages": [{"role": "user", "content": text(rng, 500)}]},
                   outputs={"choices": [{"role": "assistant", "content": text(rng, 500)}]},
                   attributes=chat),
        SpanRecord(name="lookup_order", span_id="a4", parent_id="a2", type="TOOL", start=s3,
                   duration=d3, inputs={"order_id": "A-1042"},
                   outputs={"status": "shipped", "arrives": "Thursday"}),
        SpanRecord(name="lookup_customer", span_id="a5", parent_id="a2", type="TOOL", start=s4,
                   duration=d4, inputs={"customer": "C-77"}, outputs={"tier": "gold"},
                   error="KeyError: 'C-77'" if rng.random() < 0.05 else None),
        SpanRecord(name="chat openai/gpt-4o-mini", span_id="a6", parent_id="a0",
                   type="CHAT_MODEL", start=s5, duration=d5, model="openai/gpt-4o-mini",
                   input_tokens=rng.randint(300, 600), output_tokens=rng.randint(50, 150),
                   cost=0.00018, inputs={"messages": [{"role": "user", "content": text(rng, 500)}]},
                   outputs={"choices": [{"role": "assistant", "content": answer}]},
                   attributes=chat),
        SpanRecord(name="parse_answer", span_id="a7", parent_id="a0", type="PARSER", start=s6,
                   duration=d6, inputs={"text": answer[:100]}, outputs={"ok": True}),
    ]  # fmt: skip


def make_report(n: int, own_suites: bool = False, seed: int = 7) -> Report:
    rng = random.Random(seed)
    judge = AssessmentSource(
        source_type=AssessmentSourceType.LLM_JUDGE, source_id="openai/gpt-4o-mini"
    )
    prompts = [
        PromptUse(name="support", version=v, digest=f"{v:02d}" * 32, alias="prod" if v else None)
        for v in (1, 2)
    ]
    cases = []
    for i in range(n):
        suite = f"tests/test_support_{i % SUITES}.py::test_answers"
        case_id = f"q{i:05d}"
        if own_suites:
            suite = f"tests/test_support_{i % SUITES}.py::test_q{i:05d}"
        question = f"question {i}: " + text(rng, 80)
        answer = text(rng, 500)
        correct = rng.random() < 0.85
        similarity = round(rng.betavariate(5, 2), 4)
        outcome = "passed" if correct and similarity >= 0.5 else "failed"
        cases.append(
            CaseResult(
                nodeid=suite if own_suites else f"{suite}[{case_id}]",
                suite=suite,
                case_id=case_id,
                inputs={"question": question},
                outputs=answer,
                expectations={"expected_response": text(rng, 120)},
                feedback=[
                    Feedback(
                        name="correctness",
                        value="yes" if correct else "no",
                        passed=correct,
                        rationale=text(rng, 200),
                        source=judge,
                        cost=0.0002,
                        input_tokens=rng.randint(400, 900),
                        output_tokens=rng.randint(40, 120),
                        metadata={"cached": rng.random() < 0.3, "requests": 1},
                    ),
                    Feedback(
                        name="similarity",
                        value=similarity,
                        passed=similarity >= 0.5,
                        pass_rule=">= 0.5",
                    ),
                    Feedback(name="is_polite", value=True, passed=True),
                ],
                outcome=outcome,  # type: ignore[arg-type]
                duration=round(rng.uniform(0.5, 2.0), 4),
                prompts=[prompts[i % 2]],
                trace=spans(rng, question, answer),
            )
        )
    run = RunInfo(
        started_at="2026-11-26T10:00:00+00:00",
        finished_at="2026-11-26T10:20:00+00:00",
        duration=1200.0,
        exit_status=1,
        plugin_version="0.1.0",
        pytest_version="9",
        python_version=sys.version.split()[0],
        platform=sys.platform,
        pytest_args=["--genai-html=report.html"],
        judge_model="openai/gpt-4o-mini",
    )
    return Report(run=run, totals=totals(cases), summaries=aggregate(cases), cases=cases)


# -- measuring --------------------------------------------------------------------------------


def timed(function: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# An in-page timer: the handlers run synchronously, reading a size forces layout.
MEASURE = """
([selector, kind, value]) => {
  const target = document.querySelector(selector);
  const rows = document.getElementById("case-rows");
  const started = performance.now();
  if (kind === "type") {
    target.value += value;
    target.dispatchEvent(new Event("input", {bubbles: true}));
  } else if (kind === "set") {
    target.value = value;
    target.dispatchEvent(new Event(target.tagName === "SELECT" ? "change" : "input",
                                   {bubbles: true}));
  } else {
    target.click();
  }
  void rows.offsetHeight;
  return performance.now() - started;
}
"""

READY_AT = """
new MutationObserver((_, observer) => {
  if (document.body && document.body.dataset.ready === "1") {
    window.__readyAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-ready"]});
"""


def _local_only(route: Any) -> None:
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


def _logged(message: Any, problems: list[str]) -> None:
    if message.type in ("error", "warning"):
        problems.append(message.text)


def browse(path: Path, runs: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        found.setdefault(name, []).append(value)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", _local_only)
            page = context.new_page()
            page.add_init_script(READY_AT)
            problems: list[str] = []
            page.on("pageerror", lambda exc, problems=problems: problems.append(str(exc)))
            page.on("console", lambda message, problems=problems: _logged(message, problems))
            page.goto(path.as_uri(), timeout=120_000)
            page.wait_for_selector('body[data-ready="1"]', timeout=120_000)
            keep("ready", page.evaluate("window.__readyAt"))
            keep(
                "dom interactive",
                page.evaluate("performance.getEntriesByType('navigation')[0].domInteractive"),
            )
            keep("heap", page.evaluate("performance.memory.usedJSHeapSize") / 1e6)
            keep("first keystroke", page.evaluate(MEASURE, ["#search", "type", "q"]))
            for char in "uestion 12":
                keep("keystroke", page.evaluate(MEASURE, ["#search", "type", char]))
            page.evaluate(MEASURE, ["#search", "set", ""])
            suite = page.evaluate("document.querySelector('#filter-suite').options[1].value")
            keep("suite filter", page.evaluate(MEASURE, ["#filter-suite", "set", suite]))
            page.evaluate(MEASURE, ["#filter-suite", "set", ""])
            keep("scorer filter", page.evaluate(MEASURE, ["#filter-scorer", "set", "similarity"]))
            keep("outcome filter", page.evaluate(MEASURE, ["#filter-outcome", "set", "failed"]))
            page.evaluate(MEASURE, ["#filter-outcome", "set", ""])
            page.evaluate(MEASURE, ["#filter-scorer", "set", ""])
            keep("open a case", page.evaluate(MEASURE, ["#case-rows tr.case-row", "click", ""]))
            keep("rows in the DOM", page.locator("#case-rows > tr").count())
            if problems:
                raise SystemExit(f"the page reported problems: {problems[:5]}")
            context.close()
        browser.close()
    return {name: statistics.median(values) for name, values in found.items()}


def measure(label: str, n: int, runs: int, own_suites: bool) -> None:
    print(f"\n{label}: {n} cases, {runs} runs (medians)")
    started = time.perf_counter()
    report = make_report(n, own_suites)
    print(f"  (built the report in {time.perf_counter() - started:.1f} s)")
    seconds, page = timed(lambda: render_html(report), runs)
    GENERATED.mkdir(parents=True, exist_ok=True)
    path = GENERATED / ("report-own-suites.html" if own_suites else "report.html")
    path.write_text(page, encoding="utf-8")
    json_size = len(report.model_dump_json().encode())
    rows = [
        ("render_html", f"{seconds:.2f} s"),
        ("file size", f"{len(page.encode()) / 1e6:.1f} MB (JSON report {json_size / 1e6:.1f} MB)"),
        ("overview rows", str(len(report.summaries))),
    ]
    browser = browse(path, runs)
    rows += [
        ("navigation -> data-ready", f"{browser['ready']:.0f} ms"),
        ("  domInteractive (parser done)", f"{browser['dom interactive']:.0f} ms"),
        ("JS heap after load", f"{browser['heap']:.0f} MB"),
        ("first search keystroke", f"{browser['first keystroke']:.1f} ms (builds search text)"),
        ("later search keystroke", f"{browser['keystroke']:.1f} ms"),
        ("suite filter change", f"{browser['suite filter']:.1f} ms"),
        ("scorer filter change", f"{browser['scorer filter']:.1f} ms"),
        ("outcome filter change", f"{browser['outcome filter']:.1f} ms"),
        ("open a case (8 spans)", f"{browser['open a case']:.1f} ms"),
        ("table rows in the DOM", f"{browser['rows in the DOM']:.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 cases, 3 runs")
    parser.add_argument(
        "--suites-per-case", action="store_true", help="also: every case a suite of its own"
    )
    options = parser.parse_args()
    if options.quick:
        options.cases, options.runs = 1000, 3
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: the browser figures need Chromium")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    measure("5 suites x 2 prompt versions", options.cases, options.runs, own_suites=False)
    if options.suites_per_case:
        measure("every case its own suite", options.cases, options.runs, own_suites=True)


if __name__ == "__main__":
    main()
