"""`python -m pytest_genai`: commands on reports, outside a pytest run.

    python -m pytest_genai merge a.json b.json ... -o all.json [--html all.html]
        [--baseline old.json [--fail-on-regression]]

Exit status: 0 merged, and the merged run passed: every gate and repeated case, every test (and
no regression, where asked); 1 merged, but a gate, a repeated case, a test or the regression
check failed, or a shard's run did not finish; 2 bad arguments or reports that can't be merged
(nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_genai", description="pytest-genai report tools"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    merge = commands.add_parser(
        "merge",
        help="merge the JSON reports of shards into the report of one run",
        description=(
            "Merge --genai-report files of shards (disjoint tests of one suite) into one report: "
            "aggregates recomputed, gates and repeated cases decided again over all cases."
        ),
    )
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    merge.add_argument(
        "-o", "--output", required=True, type=Path, metavar="PATH", help="the merged JSON report"
    )
    merge.add_argument("--html", type=Path, metavar="PATH", help="also write an HTML report")
    merge.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="compare the merged report with an earlier JSON report",
    )
    merge.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a suite's scorer dropped significantly against --baseline",
    )
    merge.set_defaults(subparser=merge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.fail_on_regression and args.baseline is None:
        args.subparser.error("--fail-on-regression compares with a baseline: give --baseline=PATH")
    return _merge(args)


def _merge(args: argparse.Namespace) -> int:
    from pytest_genai.report.baseline import compare
    from pytest_genai.report.json_report import ReportFileError, load_report, write_report
    from pytest_genai.report.merge import MergeError, load_shards, merge
    from pytest_genai.report.table import render, totals_line

    try:
        shards = load_shards(args.reports)
        report = merge(shards)
        if args.baseline is not None:
            baseline = load_report(args.baseline, slim=True)
            report.baseline = compare(
                report.cases,
                baseline.cases,
                name=str(args.baseline),
                commit=baseline.run.git_commit,
                started_at=baseline.run.started_at,
                current_repeated=report.repeated_cases,
                baseline_repeated=baseline.repeated_cases,
            )
    except (MergeError, ReportFileError) as exc:
        print(f"pytest-genai merge: {exc}", file=sys.stderr)
        return 2
    commits = {r.run.git_commit for _, r in shards}
    if len(commits) > 1:
        print(
            "pytest-genai merge: warning: the reports come from different commits: "
            + ", ".join(sorted(c or "unknown" for c in commits)),
            file=sys.stderr,
        )
    try:
        write_report(args.output, report)
        if args.html is not None:
            from pytest_genai.report.html import write_html

            write_html(args.html, report)
    except OSError as exc:
        print(f"pytest-genai merge: could not write the report: {exc}", file=sys.stderr)
        return 2

    print(f"merged {len(shards)} reports, {len(report.cases)} cases, into {args.output}")
    if report.summaries:
        print(render(report.summaries, "plain"))
    print(totals_line(report.totals))
    for gate in report.gates:
        print(f"gate {'PASSED' if gate.passed else 'FAILED'} {gate.suite}: {gate.describe()}")
    for repeated in report.repeated_cases:
        if not repeated.passed:
            print(f"repeated case FAILED {repeated.nodeid}: {repeated.describe()}")
    failing = [c for c in report.unscored if c.outcome in ("failed", "error")]
    if failing:
        print(f"{len(failing)} test(s) failed outside the scored suites:")
        for case in failing[:20]:
            print(f"  {case.outcome.upper()} {case.nodeid}")
    # 1 also for a failed test (exit status 1) or a shard that did not finish (2 to 4)
    failed = report.run.exit_status not in (0, 5)
    if report.baseline is not None:
        from pytest_genai.report.baseline_view import terminal_lines

        print("\n".join(terminal_lines(report.baseline)))
        failed = failed or (args.fail_on_regression and bool(report.baseline.regressions))
    if args.html is not None:
        print(f"genai report: {args.html}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
