"""Measure shard merging and the baseline comparison at scale.

(a) Merge: S shard reports of C cases each (default 10 x 1,000), written as `--genai-report`
    JSON files: 5 suites split across every shard, each case with a judge verdict (with a
    rationale), a numeric score and a boolean, a trace of 8 spans, and a gate per suite. Timed:
    `python -m pytest_genai merge shard-*.json -o all.json` as a whole command in a subprocess
    (interpreter start and imports included), and in this process the parts: reading and
    validating the shards (`load_shards`), `merge` (aggregates, gates), writing the merged JSON.
    Also shown: the size of the shards and of the merged report.
(b) Baseline: `compare()` of the merged 10,000 cases against a second run of the same cases in
    which a third of the verdicts and scores changed (the paired bootstrap over 10,000 cases is
    its costly part).

Printed: medians over the repetitions (`--repeats`, default 5). Run from the repository root:
`.venv/bin/python benchmarks/bench_merge.py [--shards S] [--cases C] [--repeats R]`
(`--quick`: 4 x 250). Generated files go under `benchmarks/_generated/merge/`, rewritten on
each run. Compare figures only within one invocation.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_genai.report.aggregate import aggregate, totals  # noqa: E402
from pytest_genai.report.baseline import compare  # noqa: E402
from pytest_genai.report.gates import GateSpec, measure  # noqa: E402
from pytest_genai.report.json_report import Report, RunInfo, write_report  # noqa: E402
from pytest_genai.report.merge import load_shards, merge  # noqa: E402
from pytest_genai.results import (  # noqa: E402
    AssessmentSource,
    AssessmentSourceType,
    CaseResult,
    Feedback,
    SpanRecord,
)

OUT = ROOT / "benchmarks" / "_generated" / "merge"
SUITES = [f"tests/test_eval_{i}.py::test_suite_{i}" for i in range(5)]
TEXT = "The refund window is thirty days from delivery; items must be unused. " * 6


def make_case(index: int, rng: random.Random, shift: float = 0.0) -> CaseResult:
    suite = SUITES[index % len(SUITES)]
    case_id = f"case-{index:05d}"
    good = rng.random() > 0.2 + shift
    score = max(0.0, min(1.0, rng.gauss(0.8 - shift, 0.1)))
    judge = AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="openai/judge")
    feedback = [
        Feedback(
            name="correctness",
            value="yes" if good else "no",
            passed=good,
            rationale=("The answer states the policy. " if good else "It invents a rule. ") * 4,
            source=judge,
            input_tokens=420,
            output_tokens=60,
            cost=0.00011,
            metadata={"judge_model": "openai/judge", "requests": 1},
        ),
        Feedback(name="similarity", value=round(score, 4), passed=score >= 0.7),
        Feedback(name="cites_source", value=good, passed=good),
    ]
    spans = [
        SpanRecord(name="agent", span_id=f"{index:012x}0001", type="AGENT", duration=0.9),
        SpanRecord(
            name="search",
            span_id=f"{index:012x}0002",
            parent_id=f"{index:012x}0001",
            type="RETRIEVER",
            start=0.01,
            duration=0.1,
            inputs={"query": "refund window"},
            outputs=[{"page_content": TEXT[:200]}],
        ),
    ]
    for i in range(3):
        spans.append(
            SpanRecord(
                name="chat openai/gpt-4o-mini",
                span_id=f"{index:012x}01{i:02d}",
                parent_id=f"{index:012x}0001",
                type="CHAT_MODEL",
                start=0.12 + 0.25 * i,
                duration=0.24,
                model="openai/gpt-4o-mini",
                input_tokens=350,
                output_tokens=80,
                cost=0.0001,
                inputs={"messages": [{"role": "user", "content": TEXT[:500]}]},
                outputs={"choices": [{"role": "assistant", "content": TEXT[:300]}]},
                attributes={"gen_ai.operation.name": "chat", "gen_ai.system": "openai"},
            )
        )
        spans.append(
            SpanRecord(
                name="lookup_order",
                span_id=f"{index:012x}02{i:02d}",
                parent_id=f"{index:012x}01{i:02d}",
                type="TOOL",
                start=0.2 + 0.25 * i,
                duration=0.02,
                inputs={"order": "ORD-1"},
                outputs={"status": "shipped"},
            )
        )
    return CaseResult(
        nodeid=f"{suite}[{case_id}]",
        suite=suite,
        case_id=case_id,
        inputs={"question": f"Question {index}: " + TEXT[:120]},
        outputs=TEXT[:400],
        expectations={"expected_response": TEXT[:200]},
        feedback=feedback,
        duration=1.1,
        trace=spans[:8],
    )


def report_of(cases: list[CaseResult], specs: list[GateSpec]) -> Report:
    gates = [measure(suite, spec, cases) for suite in SUITES for spec in specs]
    return Report(
        run=RunInfo(
            started_at="2026-11-26T10:00:00+00:00",
            finished_at="2026-11-26T10:05:00+00:00",
            duration=300.0,
            exit_status=0,
            plugin_version="0.1.0",
            pytest_version="9",
            python_version="3.11",
            platform="linux",
            pytest_args=[],
            judge_model="openai/judge",
        ),
        totals=totals(cases),
        summaries=aggregate(cases),
        gates=[g for g in gates if g.cases],
        cases=cases,
    )


def median_time(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.shards, args.cases, args.repeats = 4, 250, 2

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    rng = random.Random(7)
    total = args.shards * args.cases
    cases = [make_case(i, rng) for i in range(total)]
    specs = [GateSpec(scorer="correctness", threshold=0.7)]
    paths = []
    for shard in range(args.shards):
        mine = cases[shard :: args.shards]  # every suite in every shard
        path = OUT / f"shard-{shard:02d}.json"
        write_report(path, report_of(mine, specs))
        paths.append(path)
    shard_bytes = sum(p.stat().st_size for p in paths)

    command = [sys.executable, "-m", "pytest_genai", "merge", *map(str, paths)]
    command += ["-o", str(OUT / "all.json")]

    def cli() -> None:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr)

    whole = median_time(cli, args.repeats)
    loaded: list = []
    read = median_time(lambda: loaded.__setitem__(slice(None), load_shards(paths)), args.repeats)
    merged: list = [None]
    combine = median_time(lambda: merged.__setitem__(0, merge(loaded)), args.repeats)
    write = median_time(lambda: write_report(OUT / "all-again.json", merged[0]), args.repeats)
    merged_bytes = (OUT / "all.json").stat().st_size
    check = json.loads((OUT / "all.json").read_text())
    assert len(check["cases"]) == total, "the merged report lost cases"

    rng = random.Random(8)
    changed = [make_case(i, rng, shift=0.1 if i % 3 == 0 else 0.0) for i in range(total)]
    result: list = [None]
    compared = median_time(
        lambda: result.__setitem__(0, compare(changed, cases, name="base")), args.repeats
    )

    print(f"merge of {args.shards} shards x {args.cases} cases ({total} cases, 8 spans each)")
    print(f"  shards on disk                 {shard_bytes / 1e6:8.1f} MB")
    print(f"  merged report                  {merged_bytes / 1e6:8.1f} MB")
    print(f"  python -m pytest_genai merge   {whole:8.2f} s   (whole command)")
    print(f"    read + validate shards       {read:8.2f} s")
    print(f"    merge (aggregates, gates)    {combine:8.3f} s")
    print(f"    write merged JSON            {write:8.2f} s")
    regressed = sum(c.regressed for c in result[0].scorers)
    print(
        f"baseline compare, {total} cases x 3 scorers: {compared:.2f} s "
        f"({regressed} of {len(result[0].scorers)} rows regressed)"
    )


if __name__ == "__main__":
    main()
