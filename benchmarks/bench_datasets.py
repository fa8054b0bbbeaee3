"""Measure collecting a large dataset: `genai_eval` vs plain `@pytest.mark.parametrize`.

A JSONL file of N cases (default 100k) is collected (`pytest --collect-only -q`) two ways, in
separate processes, interleaved, several runs each:

- `@pytest.mark.genai_eval(dataset="cases.jsonl")`: our loader, `Case` models, ids, markers;
- `@pytest.mark.parametrize("case", ROWS, ids=IDS)` over the same rows read with `json` at import
  (what a user would write without the plugin), run with `-p no:genai`.

Printed: wall time and peak RSS (the child's `ru_maxrss`) of each, medians, and the ratios.
Targets: <= 1.5x time, <= 1.5x memory.

Then `evaluate()` of 500 cases whose `predict_fn` takes 50 ms (a sleep, like waiting on a model)
at `max_workers=16`, inside a pytest test, against the ideal 500 x 0.05 / 16 s. Target: <= 1.3x.

Run from the repository root: `.venv/bin/python benchmarks/bench_datasets.py [--cases N]
[--runs R]`. Generated files go under `benchmarks/_generated/datasets/`. The machine should
otherwise be idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATED = HERE / "_generated" / "datasets"

OURS = """
import pytest

@pytest.mark.genai_eval(dataset="cases.jsonl")
def test_case(case):
    return case.inputs["question"]
"""

PLAIN = """
import json
import pytest

with open("cases.jsonl", encoding="utf-8") as lines:
    ROWS = [json.loads(line) for line in lines if line.strip()]

@pytest.mark.parametrize("case", ROWS, ids=[row["id"] for row in ROWS])
def test_case(case):
    return case["inputs"]["question"]
"""


def write_project(cases: int) -> None:
    for name, source in (("ours", OURS), ("plain", PLAIN)):
        folder = GENERATED / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "test_cases.py").write_text(source, encoding="utf-8")
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        with (folder / "cases.jsonl").open("w", encoding="utf-8") as out:
            for i in range(cases):
                row = {
                    "id": f"q{i:06d}",
                    "inputs": {"question": f"What is the refund policy for order {i}?"},
                    "expectations": {"expected_response": f"Refunds for order {i} take 30 days."},
                    "tags": ["billing"] if i % 2 else ["shipping"],
                }
                out.write(json.dumps(row) + "\n")


EVALUATE = """
import time
from pytest_genai import evaluate

CASES = [{"id": f"c{i}", "inputs": {"question": f"q{i}"},
          "expectations": {"expected_response": f"q{i}"}} for i in range(CASES_N)]

def predict(question):
    time.sleep(0.05)
    return question

def test_evaluate():
    started = time.perf_counter()
    result = evaluate(CASES, predict, ["equals_expected"], max_workers=16)
    took = time.perf_counter() - started
    assert result.metrics["equals_expected/pass_rate"] == 1.0
    print("EVALUATE_SECONDS", took)
"""


def run_evaluate(cases: int) -> float:
    folder = GENERATED / "evaluate"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_evaluate.py").write_text(EVALUATE.replace("CASES_N", str(cases)))
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "EVALUATE_SECONDS" in x)
    return float(line.split()[-1])


def collect(name: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one `--collect-only` run, in a child process."""
    folder = GENERATED / name
    args = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    if name == "plain":
        args += ["-p", "no:genai"]
    code = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "elapsed = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(done.returncode, elapsed, peak)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"collection failed in {folder}")
    return float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    write_project(options.cases)
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "plain": []}
    for run in range(options.runs):
        for name in ("ours", "plain") if run % 2 == 0 else ("plain", "ours"):
            results[name].append(collect(name))
    print(f"\ncollecting {options.cases} cases, {options.runs} runs each (medians)")
    medians = {}
    for name, label in (("ours", "genai_eval(dataset=...)"), ("plain", "parametrize + json")):
        seconds = statistics.median(r[0] for r in results[name])
        memory = statistics.median(r[1] for r in results[name])
        medians[name] = (seconds, memory)
        print(f"  {label:28} {seconds:8.2f} s   peak RSS {memory:8.1f} MB")
    time_ratio = medians["ours"][0] / medians["plain"][0]
    memory_ratio = medians["ours"][1] / medians["plain"][1]
    for what, ratio in (("time", time_ratio), ("memory", memory_ratio)):
        verdict = "PASS" if ratio <= 1.5 else "MISS"
        print(f"  ours / plain {what}: {ratio:.2f}x (target <= 1.5) {verdict}")

    ideal = 500 * 0.05 / 16
    took = statistics.median(run_evaluate(500) for _ in range(options.runs))
    verdict = "PASS" if took / ideal <= 1.3 else "MISS"
    print(f"\nevaluate() of 500 cases, 50 ms each, max_workers=16 ({options.runs} runs, median)")
    print(f"  {took:.2f} s vs ideal {ideal:.2f} s: {took / ideal:.2f}x (target <= 1.3) {verdict}")


if __name__ == "__main__":
    main()
