"""The HTML report (`--genai-html`): one self-contained page, the cases rendered in the browser.

Everything the page shows is in the file: CSS and JavaScript inlined, charts as inline SVG made
here, the cases as JSON in a `<script type="application/json">` element that the page's script
turns into a table one page of rows at a time. A Content-Security-Policy lets the page load
nothing from anywhere and run only its own script (allowed by hash).

Imported only when an HTML report is asked for: it imports jinja2.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup
from pydantic import TypeAdapter

from pytest_genai.files import write_atomic
from pytest_genai.report.aggregate import (
    NO_SCORER,
    ScorerSummary,
    by_scorer,
    case_status,
    merge_unsplit,
    natural_key,
    numeric_values,
    prompt_label,
)
from pytest_genai.report.baseline import BaselineComparison, ScorerChange
from pytest_genai.report.baseline_view import verdict as verdict_of
from pytest_genai.report.json_report import Report
from pytest_genai.report.table import cost_text, money
from pytest_genai.results import CaseResult

TEMPLATES = Path(__file__).with_name("templates")
BINS = 10
"""Bars of a score histogram."""
OVERVIEW_SHOWN = 100
"""Overview rows shown at first; the rest are in the page, hidden, and shown on demand..."""
OVERVIEW_BATCH = 500
"""...this many at a time."""
_BREAK_AFTER = re.compile(r"(::|/|\[)")

_CASES = TypeAdapter(list[CaseResult])
_EXIT_STATUS = {
    0: "all tests passed",
    1: "tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


def write_html(path: Path, report: Report) -> None:
    """Write the report's HTML page to `path` (atomically)."""
    write_atomic(path, render_html(report))


def render_html(report: Report) -> str:
    """The report as one HTML page that needs nothing but a browser (no network at all)."""
    index = _Index(report.cases)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_sha256(js)}'",
            f"style-src '{_sha256(css)}'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return _template().render(
        title=f"pytest-genai report · {report.run.started_at.replace('T', ' ')}",
        csp=csp,
        css=Markup(css),
        js=Markup(js),
        run=_run_rows(report),
        totals=_totals(report),
        overview=_overview(report.summaries, index),
        overview_shown=OVERVIEW_SHOWN,
        overview_batch=OVERVIEW_BATCH,
        gates=report.gates,
        repeated=report.repeated_cases,
        flaky=[r for r in report.repeated_cases if r.flaky],
        baseline=_baseline(report.baseline) if report.baseline is not None else None,
        suites=sorted({c.suite for c in report.cases}),
        scorers=sorted(index.scorers),
        prompts=sorted(index.prompts, key=natural_key),
        unprompted=index.unprompted,
        data=Markup(_data_json(report.cases, index.verdicts)),
    )


@functools.lru_cache(maxsize=1)
def _template() -> Template:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["breakable"] = _breakable
    return environment.get_template("report.html.j2")


def _breakable(text: str) -> Markup:
    """`text` escaped, with line-break opportunities after `::`, `/` and `[` (node ids)."""
    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", escape(text)))


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# -- the cases --------------------------------------------------------------------------------


class _Index:
    """One pass over the cases, grouped as the quality table groups them: each case's status
    per scorer (as the table counts it, so filters agree with its counts) and each row's
    numeric values (for its histogram)."""

    def __init__(self, cases: Sequence[CaseResult]) -> None:
        self.verdicts: list[dict[str, str]] = [{} for _ in cases]
        self.values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        self.scorers: set[str] = set()
        self.prompts: set[str] = set()
        self.unprompted = False
        groups: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
        for case in cases:
            groups[(case.suite, prompt_label(case))].append(case)
            self.prompts.update(p.label for p in case.prompts)
            self.unprompted = self.unprompted or not case.prompts
        merge_unsplit(groups)
        position = {id(case): i for i, case in enumerate(cases)}
        for (suite, label), members in groups.items():
            found = [by_scorer(case.feedback) for case in members]
            names = sorted({name for named in found for name in named}) or [NO_SCORER]
            self.scorers.update(names)
            for case, named in zip(members, found, strict=True):
                statuses = self.verdicts[position[id(case)]]
                for name in names:
                    mine = named.get(name)
                    if case.outcome == "skipped":
                        statuses[name] = "skipped"
                    elif mine:
                        statuses[name] = case_status(mine)
                        self.values[(suite, label, name)].extend(numeric_values(mine))
                    elif case.outcome in ("failed", "error"):
                        statuses[name] = "error"


def _data_json(cases: Sequence[CaseResult], verdicts: list[dict[str, str]]) -> str:
    """The cases and their statuses as JSON that is safe inside a `<script>` element."""
    raw = _CASES.dump_json(list(cases), exclude_none=True).decode("utf-8")
    statuses = json.dumps(verdicts, ensure_ascii=False, separators=(",", ":"))
    text = '{"cases":' + raw + ',"verdicts":' + statuses + "}"
    # These characters only occur inside JSON strings, where the escapes mean the same.
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


# -- header and overview ----------------------------------------------------------------------


def _run_rows(report: Report) -> list[tuple[str, str, str]]:
    """(label, shown value, full value) of the run's metadata."""
    run = report.run
    status = _EXIT_STATUS.get(run.exit_status, "")
    rows = [
        ("started", run.started_at.replace("T", " "), run.started_at),
        ("duration", _seconds(run.duration), f"{run.duration} s"),
        ("exit status", f"{run.exit_status} ({status})" if status else str(run.exit_status), ""),
        ("git commit", (run.git_commit or "-")[:12], run.git_commit or ""),
        ("judge model", run.judge_model, ""),
        (
            "versions",
            f"pytest-genai {run.plugin_version} · pytest {run.pytest_version} "
            f"· Python {run.python_version}",
            run.platform,
        ),
    ]
    if run.merged_from:
        rows.append(("merged from", ", ".join(run.merged_from), ""))
    return rows


def _totals(report: Report) -> list[tuple[str, str, str]]:
    """(label, value, css class) of the totals cards."""
    t = report.totals
    cached = str(t.cached) + (f" (saved {money(t.cost_saved)})" if t.cost_saved else "")
    return [
        ("cases", str(t.cases), ""),
        ("passed", str(t.passed), "st-passed"),
        ("failed", str(t.failed), "st-failed" if t.failed else ""),
        ("errors", str(t.errors), "st-error" if t.errors else ""),
        ("skipped", str(t.skipped), ""),
        ("judge calls", str(t.judge_calls), ""),
        ("tokens", f"{t.tokens:,}", ""),
        ("cost", cost_text(t), ""),
        ("cached", cached, ""),
    ]


def _overview(summaries: Sequence[ScorerSummary], index: _Index) -> dict[str, Any]:
    rows = []
    for s in summaries:
        values = index.values.get((s.suite, s.prompts or "", s.scorer))
        rows.append(
            {
                "s": s,
                "rate": "-" if s.pass_rate is None else f"{s.pass_rate:.1%}",
                "interval": (
                    ""
                    if s.ci_low is None or s.ci_high is None
                    else f"{s.ci_low:.1%}–{s.ci_high:.1%}"
                ),
                "rate_bar": _rate_bar(s),
                "stats": [f"{k} {_number(v)}" for k, v in s.stats.items()],
                "judge": (
                    f"{s.judge_calls} calls · {s.tokens:,} tokens · {cost_text(s)}"
                    if s.judge_calls or s.judge_errors
                    else ""
                ),
                "chart": _histogram(values, s) if values else _stacked(s),
            }
        )
    return {
        "rows": rows,
        "prompts": any(s.prompts for s in summaries),
        "info": any(s.info for s in summaries),
        "judged": any(s.judge_calls or s.judge_errors for s in summaries),
    }


def _number(value: float) -> str:
    return f"{value:.4g}"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.2f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


# -- charts (inline SVG; colours come from the stylesheet's classes) ----------------------------


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">{"".join(body)}</svg>'
    )


def _rate_bar(s: ScorerSummary) -> Markup:
    """The pass rate as a tick on a 0-100% track, its 95% interval as a band."""
    if s.pass_rate is None or s.ci_low is None or s.ci_high is None:
        return Markup("")
    width, height = 100, 12
    low, high = s.ci_low * width, s.ci_high * width
    tick = s.pass_rate * width
    label = f"pass rate {s.pass_rate:.1%}, 95% CI {s.ci_low:.1%}–{s.ci_high:.1%}"
    return _svg(
        width,
        height,
        label,
        [
            f"<title>{escape(label)}</title>",
            f'<rect class="track" x="0" y="4" width="{width}" height="4" rx="2"/>',
            f'<rect class="interval" x="{low:.2f}" y="2" width="{max(high - low, 1):.2f}" '
            'height="8" rx="2"/>',
            f'<rect class="tick" x="{min(max(tick - 1, 0), width - 2):.2f}" y="0" width="2" '
            f'height="{height}"/>',
        ],
    )


def _histogram(values: list[float], s: ScorerSummary) -> Markup:
    """The values in `BINS` equal bins between their minimum and maximum, over a strip of the
    row's verdicts when it has a pass rule."""
    width, height, axis, strip = 120, 44, 10, 4
    top = height - axis - strip - 2
    low, high = min(values), max(values)
    span = high - low
    body = [f"<title>{len(values)} values from {_number(low)} to {_number(high)}</title>"]
    if not span:
        label = f"all {len(values)} values {_number(low)}"
        body.append(
            f'<rect class="bin" x="0" y="0" width="{width}" height="{top}">'
            f"<title>{escape(label)}</title></rect>"
            f'<text class="axis" x="{width / 2}" y="{height - 1}" text-anchor="middle">'
            f"{escape(_number(low))}</text>"
        )
    else:
        counts = [0] * BINS
        for v in values:
            counts[min(int((v - low) / span * BINS), BINS - 1)] += 1
        peak = max(counts)
        bar = width / BINS
        for i, n in enumerate(counts):
            if n:
                h = max(n / peak * top, 1)
                what = f"{_number(low + span * i / BINS)}–{_number(low + span * (i + 1) / BINS)}"
                body.append(
                    f'<rect class="bin" x="{i * bar + 0.5:.2f}" y="{top - h:.2f}" '
                    f'width="{bar - 1:.2f}" height="{h:.2f}">'
                    f"<title>{escape(what)}: {n}</title></rect>"
                )
        body.append(
            f'<text class="axis" x="0" y="{height - 1}">{escape(_number(low))}</text>'
            f'<text class="axis" x="{width}" y="{height - 1}" text-anchor="end">'
            f"{escape(_number(high))}</text>"
        )
    if s.passed + s.failed + s.errors:
        body.extend(_segments(s, width, top + 1, strip))
    return _svg(width, height, f"histogram of {len(values)} scores", body)


def _stacked(s: ScorerSummary) -> Markup:
    """Passed, failed, error, info and skipped counts as one bar."""
    if not s.cases:
        return Markup("")
    width, height = 120, 14
    return _svg(width, height, f"{s.passed} of {s.cases} passed", _segments(s, width, 1, 12))


def _segments(s: ScorerSummary, width: int, y: int, height: int) -> list[str]:
    parts = [
        ("passed", s.passed),
        ("failed", s.failed),
        ("error", s.errors),
        ("info", s.info),
        ("skipped", s.skipped),
    ]
    total = sum(n for _, n in parts) or 1
    body, x = [], 0.0
    for name, n in parts:
        if n:
            w = n / total * width
            body.append(
                f'<rect class="seg st-{name}" x="{x:.2f}" y="{y}" width="{w:.2f}" '
                f'height="{height}"><title>{n} {name}</title></rect>'
            )
            x += w
    return body


# -- baseline ---------------------------------------------------------------------------------


def _baseline(comparison: BaselineComparison) -> dict[str, Any]:
    where = []
    if comparison.baseline_commit:
        where.append(f"commit {comparison.baseline_commit[:12]}")
    if comparison.baseline_started_at:
        where.append(f"run {comparison.baseline_started_at}")
    return {
        "c": comparison,
        "where": ", ".join(where),
        "rows": [_change_row(change) for change in comparison.scorers],
        "regressions": len(comparison.regressions),
    }


def _change_row(c: ScorerChange) -> dict[str, str]:
    verdict = verdict_of(c).lower()  # the terminal's words
    badge = {"regressed": "st-failed", "improved": "st-passed", "changed": "st-info"}.get(
        verdict, "st-skipped"
    )
    interval = ""
    if c.mean_diff_low is not None and c.mean_diff_high is not None:
        interval = f"[{c.mean_diff_low:+.4g}, {c.mean_diff_high:+.4g}]"
    return {
        "suite": c.suite,
        "scorer": c.scorer,
        "rate": _before_after(c.pass_rate_before, c.pass_rate_after, "{:.1%}"),
        "rate_delta": "" if c.pass_rate_delta is None else f"{c.pass_rate_delta * 100:+.1f} pts",
        "mcnemar": _p(c.mcnemar_p),
        "mean": _before_after(c.mean_before, c.mean_after, "{:.4g}"),
        "mean_delta": "" if c.mean_delta is None else f"{c.mean_delta:+.4g}",
        "bootstrap": _p(c.bootstrap_p),
        "interval": interval,
        "shared": str(c.shared),
        "verdict": verdict,
        "badge": badge,
    }


def _before_after(before: float | None, after: float | None, form: str) -> str:
    if before is None and after is None:
        return ""
    show = lambda v: "-" if v is None else form.format(v)  # noqa: E731
    return f"{show(before)} → {show(after)}"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3g}"
