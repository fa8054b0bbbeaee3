"""Merging shard reports (`pytest_genai.report.merge`): every case once, aggregates, gates and
repeated cases computed again over all the cases, run info, and the reports it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

from pytest_genai.report.aggregate import aggregate, totals
from pytest_genai.report.gates import GateSpec, measure
from pytest_genai.report.json_report import (
    SCHEMA_VERSION,
    Report,
    ReportFileError,
    RunInfo,
    load_report,
    write_report,
)
from pytest_genai.report.merge import MergeError, load_shards, merge
from pytest_genai.report.repeats import decide_cases
from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    FeedbackError,
    PromptUse,
    SpanRecord,
)

GATED = "t.py::test_gated"
REPEATED = "t.py::test_repeated"
PLAIN = "t.py::test_plain"


def case(
    suite: str, case_id: str, *feedback: Feedback, outcome: str = "passed", duration: float = 0.1
) -> CaseResult:
    return CaseResult(
        nodeid=f"{suite}[{case_id}]",
        suite=suite,
        case_id=case_id,
        feedback=list(feedback),
        outcome=outcome,  # type: ignore[arg-type]
        duration=duration,
    )


def ok(name: str = "exact", passed: bool = True) -> Feedback:
    return Feedback(name=name, value=passed, passed=passed)


def number(name: str, value: float) -> Feedback:
    return Feedback(name=name, value=value)


def judged(passed: bool, tokens: int, cost: float | None) -> Feedback:
    return Feedback(
        name="correctness",
        value="yes" if passed else "no",
        passed=passed,
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="m"),
        input_tokens=tokens,
        output_tokens=1,
        cost=cost,
        metadata={"requests": 1},
    )


def run_info(
    started: str = "2026-01-01T10:00:00+00:00",
    finished: str = "2026-01-01T10:05:00+00:00",
    exit_status: int = 0,
    commit: str | None = "a" * 40,
    args: Sequence[str] = (),
) -> RunInfo:
    return RunInfo(
        started_at=started,
        finished_at=finished,
        duration=1.0,
        exit_status=exit_status,
        plugin_version="0.1.0",
        pytest_version="9.0",
        python_version="3.11.7",
        platform="Linux",
        git_commit=commit,
        pytest_args=list(args),
        judge_model="openai/gpt-4o-mini",
    )


def shard(
    cases: Iterable[CaseResult],
    gates: Mapping[str, Sequence[GateSpec]] | None = None,
    rules: Mapping[str, str] | None = None,
    **run: object,
) -> Report:
    """A shard's report as its run would write it: gates only for gated suites it ran a case
    of, measured over its own cases; repeated cases decided over its own runs."""
    cases = sorted(cases, key=lambda c: c.nodeid)
    seen = {c.suite for c in cases}
    measured = [
        measure(suite, spec, cases)
        for suite, specs in sorted((gates or {}).items())
        if suite in seen
        for spec in specs
    ]
    mine = {suite: rule for suite, rule in (rules or {}).items() if suite in seen}
    return Report(
        run=run_info(**run),  # type: ignore[arg-type]
        totals=totals(cases),
        summaries=aggregate(cases),
        gates=measured,
        repeated_cases=decide_cases(mine, {}, cases) if mine else [],
        cases=cases,
    )


def write(path: Path, report: Report) -> Path:
    write_report(path, report)
    return path


# -- aggregates -------------------------------------------------------------------------------


def all_cases() -> list[CaseResult]:
    prompt = PromptUse(name="greeting", version=3, digest="d" * 8)
    return [
        case(PLAIN, "a", ok(), number("length", 4), judged(True, 10, 0.001)),
        case(PLAIN, "b", ok(passed=False), number("length", 9), outcome="failed"),
        case(PLAIN, "c", ok(), number("length", 1.5), judged(False, 12, None)),
        case(PLAIN, "d", outcome="skipped"),
        case(PLAIN, "e", outcome="error"),
        case(
            PLAIN,
            "f",
            Feedback(name="exact", error=FeedbackError(error_type="KeyError", message="x")),
            outcome="error",
        ),
        case(GATED, "a", ok(), number("length", 2)).model_copy(update={"prompts": [prompt]}),
        case(GATED, "b", ok(), number("length", 7)),
        case(GATED, "c", ok(passed=False), number("length", 3)),
    ]


def test_aggregates_are_those_of_all_cases() -> None:
    cases = all_cases()
    # the shards in an order that is not the node ids' order, each holding parts of suites
    shards = [
        ("c.json", shard([cases[8], cases[4]])),
        ("a.json", shard([cases[0], cases[2], cases[6]])),
        ("b.json", shard([cases[1], cases[3], cases[5], cases[7]])),
    ]
    merged = merge(shards)
    ordered = sorted(cases, key=lambda c: c.nodeid)
    assert merged.cases == ordered
    assert [c.nodeid for c in merged.cases] == sorted(c.nodeid for c in cases)
    assert merged.totals == totals(ordered)
    assert merged.summaries == aggregate(ordered)
    # spot checks against hand-counted figures, not only against the same functions
    assert (merged.totals.cases, merged.totals.passed, merged.totals.failed) == (9, 5, 1)
    assert (merged.totals.errors, merged.totals.skipped, merged.totals.feedback) == (2, 1, 15)
    assert (merged.totals.judge_calls, merged.totals.input_tokens) == (2, 22)
    assert merged.totals.cost == pytest.approx(0.001)
    assert merged.totals.unpriced_calls == 1
    rows = {(r.suite, r.scorer): r for r in merged.summaries}
    exact = rows[(PLAIN, "exact")]
    assert (exact.cases, exact.passed, exact.failed, exact.errors, exact.skipped) == (6, 2, 1, 2, 1)
    assert exact.pass_rate == 0.4
    assert rows[(PLAIN, "length")].stats == {"mean": 4.833333, "min": 1.5}
    assert rows[(GATED, "length")].stats == {"mean": 4.0, "min": 2.0}
    assert rows[(GATED, "length")].prompts == "greeting v3"
    assert merged.baseline is None


def test_one_shard_merges_into_its_own_report() -> None:
    report = shard(all_cases(), gates={GATED: [GateSpec(scorer="exact", threshold=0.5)]})
    merged = merge([("only.json", report)])
    assert merged.model_dump(exclude={"run"}) == report.model_dump(exclude={"run"})
    assert merged.run.merged_from == ["only.json"]


def test_the_merged_report_is_a_valid_report(tmp_path: Path) -> None:
    cases = all_cases()
    merged = merge([("a.json", shard(cases[:4])), ("b.json", shard(cases[4:]))])
    path = write(tmp_path / "all.json", merged)
    assert load_report(path) == merged
    # and it can itself be merged with a further shard
    extra = shard([case("t.py::test_more", "z", ok())])
    again = merge([("all.json", load_report(path)), ("c.json", extra)])
    assert again.totals == totals([*cases, *extra.cases])


# -- gates ------------------------------------------------------------------------------------


def gated_cases() -> list[CaseResult]:
    """Ten cases of a gated suite, eight passing: 80% over all of them."""
    return [case(GATED, f"c{i}", ok(passed=i not in (0, 1))) for i in range(10)]


@pytest.mark.parametrize(
    ("threshold", "first", "second", "merged_passes"),
    [
        # c0-c2 alone are 33% (missed), c3-c9 alone 100%: over all ten, 80% passes 0.75 ...
        pytest.param(0.75, False, True, True, id="missed-in-a-shard-passes-merged"),
        # ... and misses 0.85, which the second shard alone passed
        pytest.param(0.85, False, True, False, id="passed-in-a-shard-missed-merged"),
    ],
)
def test_gates_are_measured_again_over_all_cases(
    threshold: float, first: bool, second: bool, merged_passes: bool
) -> None:
    cases = gated_cases()
    specs = {GATED: [GateSpec(scorer="exact", threshold=threshold)]}
    a, b = shard(cases[:3], gates=specs), shard(cases[3:], gates=specs)
    assert [g.passed for g in a.gates] == [first]
    assert [g.passed for g in b.gates] == [second]
    merged = merge([("a.json", a), ("b.json", b)])
    [gate] = merged.gates
    assert gate == measure(GATED, specs[GATED][0], cases)
    assert (gate.cases, gate.value, gate.passed) == (10, 0.8, merged_passes)
    assert merged.run.exit_status == (0 if merged_passes else 1)


def test_a_mean_gate_is_measured_again() -> None:
    cases = [case(GATED, f"c{i}", number("length", v)) for i, v in enumerate([1, 2, 9, 8])]
    spec = GateSpec(scorer="length", statistic="mean", threshold=5.0)
    specs = {GATED: [spec]}
    a, b = shard(cases[:2], gates=specs), shard(cases[2:], gates=specs)
    assert (a.gates[0].value, b.gates[0].value) == (1.5, 8.5)
    [gate] = merge([("a.json", a), ("b.json", b)]).gates
    assert gate == measure(GATED, spec, cases)
    assert (gate.value, gate.passed) == (5.0, True)


def test_gates_are_the_union_of_the_shards_gates() -> None:
    other = "t.py::test_other"
    specs = {
        GATED: [
            GateSpec(scorer="exact", threshold=0.5),
            GateSpec(scorer="length", statistic="mean", threshold=2.0),
        ],
        other: [GateSpec(scorer="exact", threshold=0.9)],
    }
    first = [case(GATED, "a", ok(), number("length", 3)), case(PLAIN, "a", ok())]
    second = [case(other, "a", ok()), case(other, "b", ok(passed=False))]
    third = [case(GATED, "b", ok(passed=False), number("length", 1))]
    shards = [
        ("a.json", shard(first, gates=specs)),  # saw only the gated suite
        ("b.json", shard(second, gates=specs)),  # saw only the other one
        ("c.json", shard(third, gates=specs)),  # the gated suite again: no second gate
    ]
    assert [len(r.gates) for _, r in shards] == [2, 1, 2]
    merged = merge(shards)
    everything = [*first, *second, *third]
    assert merged.gates == [
        measure(suite, spec, everything) for suite in sorted(specs) for spec in specs[suite]
    ]
    assert [(g.suite, g.scorer, g.cases, g.passed) for g in merged.gates] == [
        (GATED, "exact", 2, True),
        (GATED, "length", 2, True),
        (other, "exact", 2, False),
    ]


def test_no_gates_and_no_repeats_when_no_shard_had_any() -> None:
    merged = merge([("a.json", shard(all_cases()[:3])), ("b.json", shard(all_cases()[3:]))])
    assert merged.gates == []
    assert merged.repeated_cases == []


# -- repeated cases ---------------------------------------------------------------------------


def runs(case_id: str, outcomes: Sequence[bool]) -> list[CaseResult]:
    return [
        case(REPEATED, f"{case_id}-r{n}", ok(passed=passed))
        for n, passed in enumerate(outcomes, start=1)
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("majority", {"flaky": True, "mostly-bad": False, "solid": True}),
        ("all", {"flaky": False, "mostly-bad": False, "solid": True}),
        ("any", {"flaky": True, "mostly-bad": True, "solid": True}),
        ("rate>=0.6", {"flaky": True, "mostly-bad": False, "solid": True}),
    ],
)
def test_repeated_runs_split_across_shards_are_decided_again(
    rule: str, expected: dict[str, bool]
) -> None:
    flaky = runs("flaky", [True, False, True])
    mostly_bad = runs("mostly-bad", [False, True, False])
    solid = runs("solid", [True, True, True])
    rules = {REPEATED: rule}
    first = [flaky[0], flaky[1], mostly_bad[2], solid[1]]
    second = [flaky[2], mostly_bad[0], mostly_bad[1], solid[0], solid[2]]
    a, b = shard(first, rules=rules), shard(second, rules=rules)
    if rule == "majority":  # each shard alone decides differently from the whole
        assert {r.case_id: r.passed for r in a.repeated_cases}["flaky"] is False
        assert {r.case_id: r.passed for r in b.repeated_cases}["mostly-bad"] is False
    merged = merge([("b.json", b), ("a.json", a)])
    everything = [*flaky, *mostly_bad, *solid]
    assert merged.repeated_cases == decide_cases(rules, {}, everything)
    assert {r.case_id: r.passed for r in merged.repeated_cases} == expected
    decided = {r.case_id: r for r in merged.repeated_cases}
    assert decided["flaky"].runs == ["flaky-r1", "flaky-r2", "flaky-r3"]
    assert decided["flaky"].run_passed == [True, False, True]
    assert decided["mostly-bad"].runs == ["mostly-bad-r1", "mostly-bad-r2", "mostly-bad-r3"]
    assert merged.run.exit_status == int(not all(expected.values()))


def test_runs_are_ordered_by_number_not_text() -> None:
    many = runs("x", [True] * 5 + [False] * 6)  # x-r1 ... x-r11
    rules = {REPEATED: "majority"}
    merged = merge(
        [("a.json", shard(many[::2], rules=rules)), ("b.json", shard(many[1::2], rules=rules))]
    )
    [decided] = merged.repeated_cases
    assert decided.runs == [f"x-r{n}" for n in range(1, 12)]
    assert decided.run_passed == [True] * 5 + [False] * 6
    assert decided.passed is False


def test_a_repeated_suite_seen_by_one_shard_is_decided() -> None:
    rules = {REPEATED: "all"}
    merged = merge(
        [
            ("a.json", shard([case(PLAIN, "a", ok())], rules=rules)),
            ("b.json", shard(runs("y", [True, True]), rules=rules)),
        ]
    )
    assert [(r.case_id, r.rule, r.passed) for r in merged.repeated_cases] == [("y", "all", True)]


def test_repeated_runs_with_another_parameter_are_decided() -> None:
    # the ids pytest gives `@pytest.mark.parametrize("model", ["good", "bad"])` on a repeated
    # genai_eval test; the single run decides 'paris-good' and 'paris-bad'
    cases = [
        case(REPEATED, f"paris-r{n}-{model}", ok(passed=model == "good"))
        for n in (1, 2)
        for model in ("good", "bad")
    ]
    # the session knows each run's case and number from the item (`pass_rule_of`)
    runs_of = {
        c.nodeid: (c.case_id.replace(f"-r{n}-", "-", 1), n)
        for c in cases
        for n in (1, 2)
        if f"-r{n}-" in c.case_id
    }
    rules = {REPEATED: "all"}
    single_run = decide_cases(rules, runs_of, cases)  # what the session decides
    assert [(r.case_id, r.passed) for r in single_run] == [
        ("paris-bad", False),
        ("paris-good", True),
    ]
    report = Report(
        run=run_info(exit_status=1),
        totals=totals(cases),
        summaries=aggregate(cases),
        repeated_cases=single_run,
        cases=sorted(cases, key=lambda c: c.nodeid),
    )
    merged = merge([("a.json", report)])
    assert merged.repeated_cases == single_run
    assert merged.run.exit_status == 1


# -- overlapping cases ------------------------------------------------------------------------


def test_a_case_in_two_reports_is_refused() -> None:
    a = shard([case(PLAIN, "a", ok()), case(PLAIN, "b", ok())])
    b = shard([case(PLAIN, "b", ok()), case(PLAIN, "c", ok())])
    with pytest.raises(MergeError) as raised:
        merge([("shard-1.json", a), ("shard-2.json", b)])
    message = str(raised.value)
    assert "1 case(s) are in more than one report" in message
    assert "t.py::test_plain[b] (in shard-1.json and shard-2.json)" in message
    assert "t.py::test_plain[a]" not in message
    assert "t.py::test_plain[c]" not in message


def test_a_report_merged_with_itself_is_refused() -> None:
    a = shard([case(PLAIN, "a", ok())])
    with pytest.raises(MergeError, match=r"merging a report with itself counts every case twice"):
        merge([("a.json", a), ("a.json", a)])


def test_a_case_twice_in_one_report_is_refused() -> None:
    twice = shard([case(PLAIN, "a", ok())])
    twice.cases.append(case(PLAIN, "a", ok(passed=False)))
    with pytest.raises(MergeError, match=r"t\.py::test_plain\[a\] \(in dup\.json and dup\.json\)"):
        merge([("fine.json", shard([case(PLAIN, "z", ok())])), ("dup.json", twice)])


def test_many_overlaps_are_counted_not_all_listed() -> None:
    cases = [case(PLAIN, f"c{i}", ok()) for i in range(8)]
    with pytest.raises(MergeError) as raised:
        merge([("a.json", shard(cases)), ("b.json", shard(cases))])
    message = str(raised.value)
    assert message.startswith("8 case(s) are in more than one report")
    assert message.count("(in a.json and b.json)") == 5
    assert "; and 3 more" in message


# -- reading the shards -----------------------------------------------------------------------


def test_load_shards_reads_every_report_in_order(tmp_path: Path) -> None:
    cases = all_cases()
    b = write(tmp_path / "b.json", shard(cases[4:]))
    a = write(tmp_path / "a.json", shard(cases[:4]))
    loaded = load_shards([b, a])
    assert [name for name, _ in loaded] == [str(b), str(a)]
    assert loaded[0][1].cases == sorted(cases[4:], key=lambda c: c.nodeid)
    assert merge(loaded).run.merged_from == [str(b), str(a)]


def test_no_reports() -> None:
    with pytest.raises(MergeError, match="give at least one report to merge"):
        load_shards([])


def test_mixed_schema_versions_are_refused_naming_each_files_version(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", shard([case(PLAIN, "a", ok())]))
    old = json.loads(a.read_text())
    old["schema_version"] = 0
    old["something_renamed"] = True
    b = tmp_path / "b.json"
    b.write_text(json.dumps(old))
    with pytest.raises(MergeError) as raised:
        load_shards([a, b])
    message = str(raised.value)
    assert "different schema versions" in message
    assert f"{a} has version {SCHEMA_VERSION}" in message
    assert f"{b} has version 0" in message


def test_reports_of_one_other_schema_version_are_refused(tmp_path: Path) -> None:
    paths = []
    for name in ("a.json", "b.json"):
        path = write(tmp_path / name, shard([case(PLAIN, name, ok())]))
        data = json.loads(path.read_text())
        data["schema_version"] = SCHEMA_VERSION + 1
        path.write_text(json.dumps(data))
        paths.append(path)
    with pytest.raises((MergeError, ReportFileError)) as raised:
        load_shards(paths)
    message = str(raised.value)
    assert str(paths[0]) in message
    assert f"report schema version {SCHEMA_VERSION + 1}" in message


def broken_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    not_json = tmp_path / "not.json"
    not_json.write_text("{ this is not json")
    not_report = tmp_path / "other.json"
    not_report.write_text(json.dumps({"cases": [], "version": 1}))
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2]")
    invalid = write(tmp_path / "invalid.json", shard([case(PLAIN, "a", ok())]))
    data = json.loads(invalid.read_text())
    del data["cases"][0]["nodeid"]
    invalid.write_text(json.dumps(data))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    return {
        "not-json": (not_json, "not JSON"),
        "not-a-report": (not_report, "not a pytest-genai report (it has no schema_version)"),
        "a-list": (a_list, "not a pytest-genai report"),
        "invalid": (invalid, "not a valid report: cases.0.nodeid: Field required"),
        "missing": (tmp_path / "nowhere.json", "no such file"),
        "unreadable": (binary, "cannot be read"),
    }


@pytest.mark.parametrize(
    "kind", ["not-json", "not-a-report", "a-list", "invalid", "missing", "unreadable"]
)
def test_a_file_that_is_no_report_is_named(tmp_path: Path, kind: str) -> None:
    good = write(tmp_path / "good.json", shard([case(PLAIN, "z", ok())]))
    path, problem = broken_files(tmp_path)[kind]
    for order in ([good, path], [path, good]):
        with pytest.raises((MergeError, ReportFileError)) as raised:
            load_shards(order)
        message = str(raised.value)
        assert message.startswith(f"{path}: "), message
        assert problem in message


# -- run info ---------------------------------------------------------------------------------


def test_run_spans_the_earliest_start_to_the_latest_finish() -> None:
    shards = [
        (
            "a.json",
            shard(
                [case(PLAIN, "a", ok())],
                started="2026-01-01T10:00:30+00:00",
                finished="2026-01-01T10:09:00+00:00",
                args=["-k", "first"],
            ),
        ),
        (
            "b.json",
            shard(
                [case(PLAIN, "b", ok())],
                started="2026-01-01T09:59:00+00:00",
                finished="2026-01-01T10:02:00+00:00",
            ),
        ),
        (
            "c.json",
            shard(
                [case(PLAIN, "c", ok())],
                # the same instants written in another time zone
                started="2026-01-01T12:00:00+02:00",
                finished="2026-01-01T12:10:00+02:00",
            ),
        ),
    ]
    run = merge(shards).run
    assert run.started_at == "2026-01-01T09:59:00+00:00"
    assert run.finished_at == "2026-01-01T12:10:00+02:00"
    assert run.duration == 11 * 60
    assert run.merged_from == ["a.json", "b.json", "c.json"]
    assert run.pytest_args == ["-k", "first"]  # the first shard's
    assert run.exit_status == 0


def test_the_first_shards_merged_from_is_replaced() -> None:
    first = shard([case(PLAIN, "a", ok())])
    first.run.merged_from = ["old-1.json", "old-2.json"]
    run = merge([("ab.json", first), ("c.json", shard([case(PLAIN, "c", ok())]))]).run
    assert run.merged_from == ["ab.json", "c.json"]


def statuses(*exit_statuses: int, failing: bool = False) -> list[tuple[str, Report]]:
    """One shard per exit status (a shard with 5 collected nothing); `failing`: the last shard
    with a case ran holds a failed case of a suite without gates or repeats."""
    shards = []
    for i, status in enumerate(exit_statuses):
        cases = [] if status == 5 else [case(PLAIN, f"c{i}", ok())]
        shards.append((f"s{i}.json", shard(cases, exit_status=status)))
    if failing:
        last = next(r for _, r in reversed(shards) if r.cases)
        last.cases.append(case(PLAIN, "bad", ok(passed=False), outcome="failed"))
    return shards


@pytest.mark.parametrize(
    ("exit_statuses", "failing", "expected"),
    [
        pytest.param((0, 0), False, 0, id="all-passed"),
        pytest.param((0, 1), True, 1, id="a-failed-case"),
        pytest.param((0, 5), False, 0, id="a-shard-without-tests"),
        pytest.param((5, 0, 5), True, 1, id="no-tests-and-a-failure"),
        pytest.param((0, 2), False, 2, id="interrupted"),
        pytest.param((1, 2), True, 2, id="interrupted-wins-over-failed"),
        pytest.param((2, 0, 3), False, 3, id="internal-error-wins-over-interrupted"),
        pytest.param((4, 2), False, 4, id="usage-error"),
        pytest.param((1, 0), False, 0, id="a-shards-1-without-a-failed-case"),
    ],
)
def test_exit_status(exit_statuses: tuple[int, ...], failing: bool, expected: int) -> None:
    assert merge(statuses(*exit_statuses, failing=failing)).run.exit_status == expected


def test_exit_status_when_no_shard_collected_a_test() -> None:
    merged = merge(statuses(5, 5))
    assert merged.cases == []
    assert merged.run.exit_status == 5


def test_a_shards_failed_gate_does_not_fail_the_merged_run() -> None:
    cases = gated_cases()
    specs = {GATED: [GateSpec(scorer="exact", threshold=0.75)]}
    a = shard(cases[:3], gates=specs, exit_status=1)  # its gate alone was missed
    b = shard(cases[3:], gates=specs)
    assert merge([("a.json", a), ("b.json", b)]).run.exit_status == 0


def test_a_failed_repeated_case_fails_the_merged_run() -> None:
    rules = {REPEATED: "all"}
    flaky = runs("flaky", [True, False])
    a, b = shard(flaky[:1], rules=rules), shard(flaky[1:], rules=rules)
    assert merge([("a.json", a), ("b.json", b)]).run.exit_status == 1


def test_a_crashed_case_of_a_passing_gate_fails_the_merged_run() -> None:
    cases = [*gated_cases()[2:], case(GATED, "crash", outcome="error")]
    specs = {GATED: [GateSpec(scorer="exact", threshold=0.5)]}
    a, b = shard(cases[:4], gates=specs), shard(cases[4:], gates=specs, exit_status=1)
    merged = merge([("a.json", a), ("b.json", b)])
    assert merged.gates[0].passed
    assert merged.run.exit_status == 1


@pytest.mark.parametrize(
    ("commits", "expected"),
    [
        pytest.param(["a" * 40, "a" * 40, "a" * 40], "a" * 40, id="all-equal"),
        pytest.param(["a" * 40, "b" * 40], None, id="different"),
        pytest.param(["a" * 40, None], None, id="one-unknown"),
        pytest.param([None, None], None, id="all-unknown"),
    ],
)
def test_the_git_commit_is_kept_only_when_all_agree(
    commits: list[str | None], expected: str | None
) -> None:
    shards = [
        (f"s{i}.json", shard([case(PLAIN, f"c{i}", ok())], commit=commit))
        for i, commit in enumerate(commits)
    ]
    assert merge(shards).run.git_commit == expected


# -- review fixes: unscored tests, run numbers, newer reports ----------------------------------


def test_a_crash_in_a_suite_another_shard_scored_becomes_a_case() -> None:
    # shard b's cases of the gated suite all crashed before a score: in b's run they are not
    # cases (its suite scored nothing there), but the merge finds the suite scored in a
    spec = GateSpec(scorer="exact", threshold=0.7)
    a = shard([case(GATED, f"c{i}", ok()) for i in range(5)], gates={GATED: [spec]})
    crashed = [case(GATED, f"c{i}", outcome="error") for i in range(5, 8)]
    b = shard([])
    b.unscored = crashed
    b.run.exit_status = 1
    merged = merge([("a.json", a), ("b.json", b)])
    assert [c.case_id for c in merged.cases] == [f"c{i}" for i in range(8)]
    assert merged.unscored == []
    (gate,) = merged.gates
    assert (gate.cases, gate.value, gate.passed) == (8, 5 / 8, False)  # as one run decides it
    assert merged.run.exit_status == 1


def test_a_failed_test_outside_every_scored_suite_fails_the_merged_run() -> None:
    a = shard([case(PLAIN, "x", ok())])
    b = shard([])
    b.unscored = [case("t.py::test_unrelated", "test_unrelated", outcome="failed")]
    merged = merge([("a.json", a), ("b.json", b)])
    assert [c.nodeid for c in merged.unscored] == ["t.py::test_unrelated[test_unrelated]"]
    assert merged.totals.cases == 1  # not a case: no suite of it was scored
    assert merged.run.exit_status == 1


def test_an_unscored_test_in_two_shards_is_an_overlap() -> None:
    a = shard([case(PLAIN, "x", ok()), case(PLAIN, "y", outcome="error")])
    b = shard([])
    b.unscored = [case(PLAIN, "y", outcome="error")]
    with pytest.raises(MergeError, match=r"t.py::test_plain\[y\] \(in a.json and b.json\)"):
        merge([("a.json", a), ("b.json", b)])


def test_run_numbers_when_the_case_id_itself_looks_like_a_run() -> None:
    ids = [f"item-r2-x-r{n}" for n in range(1, 12)]
    cases = [case(REPEATED, run_id, ok(passed=n != 10)) for n, run_id in enumerate(ids, 1)]
    single = decide_cases({REPEATED: "all"}, {}, cases)
    assert single[0].runs == ids  # r1 ... r11 in number order
    report = Report(
        run=run_info(exit_status=1),
        totals=totals(cases),
        summaries=aggregate(cases),
        repeated_cases=single,
        cases=sorted(cases, key=lambda c: c.nodeid),
    )
    merged = merge([("a.json", report)])
    assert merged.repeated_cases == single


def test_a_newer_reports_added_fields_are_ignored(tmp_path: Path) -> None:
    report = shard([case(PLAIN, "x", ok())])
    report.cases[0].trace = [SpanRecord(name="answer", span_id="1")]
    report.cases[0].prompts = [PromptUse(name="greeting", version=1, digest="d")]
    data = json.loads(report.model_dump_json())
    data["new_top"] = 1
    data["cases"][0]["new_case_field"] = 1
    data["cases"][0]["feedback"][0]["new_feedback_field"] = 1
    data["cases"][0]["trace"][0]["new_span_field"] = 1
    data["cases"][0]["prompts"][0]["new_prompt_field"] = 1
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data))
    loaded = load_report(path)
    assert loaded.cases[0].trace[0].name == "answer"
    assert loaded.cases[0].feedback[0].passed is True
    slim = load_report(path, slim=True)
    assert slim.cases[0].trace == [] and slim.cases[0].feedback == loaded.cases[0].feedback


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000)
    with pytest.raises((MergeError, ReportFileError), match=r"deep\.json: not a report: nested"):
        load_shards([path])
    with pytest.raises(ReportFileError, match=r"deep\.json: not a report: nested"):
        load_report(path)
