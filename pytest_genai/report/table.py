"""The quality summary as a table, shared by the terminal and the GitHub step summary."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_genai.report.aggregate import DEFAULT_AGGREGATIONS, JudgeUsage, ScorerSummary, Totals

HEADERS = [
    "suite",
    "scorer",
    "cases",
    "passed",
    "failed",
    "errors",
    "skipped",
    "pass rate",
    "95% CI",
    "mean",
    "min",
]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def rows(summaries: Sequence[ScorerSummary]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows. Optional columns: `prompts` (the prompt versions of the row's cases),
    `info` (scored cases whose scorer has no pass rule),
    `judge calls`, `tokens` and `cost` (when a judge was asked) and `more` (statistics a scorer
    asked for beyond mean and min)."""
    info = any(s.info for s in summaries)
    prompts = any(s.prompts for s in summaries)
    judged = any(s.judge_calls or s.judge_errors for s in summaries)
    extra = any(set(s.stats) - set(DEFAULT_AGGREGATIONS) for s in summaries)
    headers = [
        *HEADERS[:1],
        *(["prompts"] if prompts else []),
        *HEADERS[1:7],
        *(["info"] if info else []),
        *HEADERS[7:],
        *(["judge calls", "tokens", "cost"] if judged else []),
        *(["more"] if extra else []),
    ]
    table = []
    for s in summaries:
        ci = "-" if s.ci_low is None else f"{s.ci_low:.1%}-{s.ci_high:.1%}"
        row = [
            s.suite,
            *([s.prompts or ""] if prompts else []),
            s.scorer,
            str(s.cases),
            str(s.passed),
            str(s.failed),
            str(s.errors),
            str(s.skipped),
            *([str(s.info)] if info else []),
            _percent(s.pass_rate),
            ci,
            _number(s.stats.get("mean")),
            _number(s.stats.get("min")),
        ]
        if judged:
            row += (
                [str(s.judge_calls), str(s.tokens), cost_text(s)]
                if s.judge_calls or s.judge_errors
                else ["", "", ""]
            )
        if extra:
            more = (f"{k}={v:.4g}" for k, v in s.stats.items() if k not in DEFAULT_AGGREGATIONS)
            row.append(" ".join(more))
        table.append(row)
    return headers, table


TEXT_COLUMNS = ("suite", "prompts", "scorer")


def render(summaries: Sequence[ScorerSummary], tablefmt: str) -> str:
    """The table as text: `"plain"` for the terminal, `"github"` for markdown (tabulate)."""
    headers, table = rows(summaries)
    if tablefmt == "plain":
        return _plain(headers, table)
    from tabulate import tabulate

    align = ["left" if h in TEXT_COLUMNS else "right" for h in headers]
    return tabulate(
        table, headers=headers, tablefmt=tablefmt, disable_numparse=True, colalign=align
    )


def _plain(headers: list[str], table: list[list[str]]) -> str:
    """A fixed-width table (text columns left, numbers right) in linear time: the terminal
    table of a large run has thousands of rows, where tabulate's type inference costs."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *table, strict=True)]
    text = [h in TEXT_COLUMNS for h in headers]

    def line(cells: list[str]) -> str:
        padded = (
            cell.ljust(width) if text[i] else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in table)])


def money(amount: float) -> str:
    """Dollars without scientific notation: `$1.25`, `$0.000012`."""
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount == 0:
        return "$0"
    digits = f"{amount:.6f}".rstrip("0")
    return "$" + (digits + "0" if digits.endswith(".") else digits)


def cost_text(usage: JudgeUsage) -> str:
    """`$0.0012`; `$0.0012+?` when some answers had no known price; `?` when none had; `-` when
    no answer came at all (nothing to price)."""
    if usage.cost is None:
        return "?" if usage.unpriced_calls else "-"
    return money(usage.cost) + ("+?" if usage.unpriced_calls else "")


def totals_line(t: Totals) -> str:
    line = (
        f"{t.cases} cases: {t.passed} passed, {t.failed} failed, {t.errors} errors, "
        f"{t.skipped} skipped; {t.feedback} scores recorded"
    )
    if t.judge_calls or t.judge_errors or t.cached:
        line += (
            f"; judges: {_count(t.judge_calls, 'verdict')} asked, "
            f"{_count(t.judge_errors, 'judge error')}, {t.tokens} tokens, cost {cost_text(t)}"
        )
    if t.cached:
        saved = f" (saved {money(t.cost_saved)})" if t.cost_saved else ""
        line += f"; {t.cached} cached{saved}"
    if t.not_judged:
        line += f"; {t.not_judged} not judged (budget exhausted)"
    return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")
