"""The GitHub Actions step summary: the quality table appended as markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pytest_genai.report.aggregate import ScorerSummary, Totals
from pytest_genai.report.table import render, totals_line

STEP_SUMMARY_LIMIT = 1024 * 1024
"""GitHub refuses a step summary over 1 MiB; we keep well under it."""
BUDGET = STEP_SUMMARY_LIMIT // 2


def markdown(summaries: Sequence[ScorerSummary], totals: Totals, budget: int = BUDGET) -> str:
    """The summary as markdown, rows dropped from the end (and said so) to fit `budget` bytes."""
    head = "### genai quality\n\n"
    tail = f"\n\n{totals_line(totals)}\n"
    shown = list(summaries)
    while True:
        body = render(shown, "github")
        if len(shown) < len(summaries):
            body += f"\n\n_{len(summaries) - len(shown)} more rows not shown (size limit)._"
        text = head + body + tail
        if len(text.encode()) <= budget or not shown:
            return text
        shown = shown[: max(0, len(shown) * 3 // 4)]


def append_step_summary(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
