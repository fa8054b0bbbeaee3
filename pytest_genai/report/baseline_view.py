"""The baseline comparison as people and tools see it: terminal lines, the step summary's
markdown, JUnit suite properties, and the failed result of a regression."""

from __future__ import annotations

from pytest_genai.report.baseline import BaselineComparison, ScorerChange, _p, _points, _signed
from pytest_genai.report.table import _plain

LISTED = 20
"""Regressed cases listed in the terminal and step summary (all are in the JSON report)."""
NAMED = 10
"""New and removed cases named in the terminal (the rest are counted)."""
REGRESSION_PREFIX = "genai-regression:"

HEADERS = [
    "suite",
    "scorer",
    "pass rate before -> after",
    "change",
    "McNemar p",
    "mean before -> after",
    "change ",
    "bootstrap p",
    "shared",
    "verdict",
]


def verdict(change: ScorerChange) -> str:
    if change.regressed:
        return "REGRESSED"
    if change.improved:
        return "improved"
    if change.significant:
        return "changed"  # a numeric score whose pass rule does not say which way is better
    if not change.shared:
        return "no shared cases"
    return "no significant change"


def _rate(before: float | None, after: float | None) -> str:
    show = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    return "" if before is None and after is None else f"{show(before)} -> {show(after)}"


def _mean(before: float | None, after: float | None) -> str:
    show = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
    return "" if before is None and after is None else f"{show(before)} -> {show(after)}"


def rows(comparison: BaselineComparison) -> list[list[str]]:
    table = []
    for c in comparison.scorers:
        rated = c.pass_rate_before is not None or c.pass_rate_after is not None
        averaged = c.mean_before is not None or c.mean_after is not None
        table.append(
            [
                c.suite,
                c.scorer,
                _rate(c.pass_rate_before, c.pass_rate_after),
                _points(c.pass_rate_delta) if rated and c.pass_rate_delta is not None else "",
                _p(c.mcnemar_p) if c.mcnemar_p is not None else "",
                _mean(c.mean_before, c.mean_after),
                _signed(c.mean_delta) if averaged and c.mean_delta is not None else "",
                _p(c.bootstrap_p) if c.bootstrap_p is not None else "",
                str(c.shared),
                verdict(c),
            ]
        )
    return table


def heading(comparison: BaselineComparison) -> str:
    where = [f"commit {comparison.baseline_commit[:12]}"] if comparison.baseline_commit else []
    if comparison.baseline_started_at:
        where.append(f"run {comparison.baseline_started_at}")
    said = f" ({', '.join(where)})" if where else ""
    return (
        f"compared with {comparison.baseline}{said}; a change is significant at "
        f"p < {comparison.alpha:g} on the cases both runs share"
    )


def terminal_lines(comparison: BaselineComparison) -> list[str]:
    """The 'genai baseline' section of the terminal summary."""
    lines = [heading(comparison)]
    if comparison.scorers:
        lines.append(_plain(HEADERS, rows(comparison)))
    else:
        lines.append("no scores in either run")
    lost = comparison.regressed_cases
    if lost:
        lines.append(f"{len(lost)} case verdict(s) passed before and fail now:")
        lines += [f"  {c.nodeid}  {c.scorer}: {c.before} -> {c.after}" for c in lost[:LISTED]]
        if len(lost) > LISTED:
            lines.append(f"  ... and {len(lost) - LISTED} more (all are in the JSON report)")
    for cases, what in (
        (comparison.new_cases, "new cases (not in the baseline)"),
        (comparison.removed_cases, "removed cases (not in this run)"),
    ):
        if cases:
            named = ", ".join(cases[:NAMED]) + (
                f", ... and {len(cases) - NAMED} more" if len(cases) > NAMED else ""
            )
            lines.append(f"{len(cases)} {what}: {named}")
    return lines


def markdown(comparison: BaselineComparison) -> str:
    """The comparison for the GitHub step summary."""
    from tabulate import tabulate

    table = rows(comparison)
    for row in table:
        if row[-1] == "REGRESSED":
            row[-1] = "**REGRESSED**"
    text = f"### genai baseline\n\n{heading(comparison)}\n\n"
    text += tabulate(table, headers=HEADERS, tablefmt="github", disable_numparse=True)
    lost = comparison.regressed_cases
    if lost:
        text += f"\n\n{len(lost)} case verdict(s) passed before and fail now:\n\n"
        text += "\n".join(
            f"- `{c.nodeid}` {c.scorer}: {c.before} -> {c.after}" for c in lost[:LISTED]
        )
        if len(lost) > LISTED:
            text += f"\n- ... and {len(lost) - LISTED} more"
    counts = []
    if comparison.new_cases:
        counts.append(f"{len(comparison.new_cases)} new cases")
    if comparison.removed_cases:
        counts.append(f"{len(comparison.removed_cases)} removed cases")
    if counts:
        text += "\n\n" + ", ".join(counts) + "."
    return text + "\n"


def junit_properties(comparison: BaselineComparison) -> list[tuple[str, str]]:
    """`genai.baseline.*` suite properties: what was compared, then per suite and scorer."""
    props = [
        ("genai.baseline", comparison.baseline),
        ("genai.baseline.regressions", str(len(comparison.regressions))),
        ("genai.baseline.regressed_cases", str(len(comparison.regressed_cases))),
        ("genai.baseline.new_cases", str(len(comparison.new_cases))),
        ("genai.baseline.removed_cases", str(len(comparison.removed_cases))),
    ]
    if comparison.baseline_commit:
        props.append(("genai.baseline.commit", comparison.baseline_commit))
    for c in comparison.scorers:
        prefix = f"genai.baseline.{c.suite}.{c.scorer}"
        props.append((f"{prefix}.shared", str(c.shared)))
        for field in (
            "pass_rate_before",
            "pass_rate_after",
            "pass_rate_delta",
            "mcnemar_p",
            "mean_before",
            "mean_after",
            "mean_delta",
            "bootstrap_p",
        ):
            value = getattr(c, field)
            if value is not None:
                props.append((f"{prefix}.{field}", f"{value:.6g}"))
        props.append((f"{prefix}.verdict", verdict(c).lower()))
    return props


def regression_nodeid(change: ScorerChange) -> str:
    return f"{change.suite}[{REGRESSION_PREFIX}{change.scorer}]"


def regression_message(comparison: BaselineComparison, change: ScorerChange) -> str:
    return f"significant drop against the baseline {comparison.baseline}: {change.describe()}"
