"""What LLM judging costs beyond the model: measured against the loopback server in tests/support.

(a) client overhead per verdict, zero server latency: `JudgeClient.ask` (structured output,
    parsing, retries wrapper) vs a bare `litellm.completion` on the same server, the same
    messages and the same `response_format`; also vs a bare call without `response_format`.
    Target <= 1.10x.
(b) 200 `assert_judged` calls with 4 criteria each, server latency 100 ms, in one pytest run:
    wall time vs the ideal 200 x 0.1 s (criteria judged at the same time). Target <= 1.3x.

Run from the repository root: `.venv/bin/python benchmarks/bench_judges.py [--runs 5]`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_genai.config import Settings  # noqa: E402
from pytest_genai.judges.base import _response_model  # noqa: E402
from pytest_genai.judges.client import JudgeClient, import_litellm  # noqa: E402
from tests.support.llm_server import LLMServer, verdict  # noqa: E402

MODEL = "openai/judge-bench"
MESSAGES = [
    {"role": "system", "content": "You are an evaluator. Reply with JSON."},
    {"role": "user", "content": "Is 'Thanks, your refund is on its way.' polite?"},
]


def per_call(calls: int, action) -> float:
    """Median seconds per call over batches of ten."""
    batches = []
    for _ in range(calls // 10):
        started = time.perf_counter()
        for _ in range(10):
            action()
        batches.append((time.perf_counter() - started) / 10)
    return statistics.median(batches)


def overhead(server: LLMServer, runs: int) -> None:
    litellm = import_litellm()
    os.environ.pop("OPENAI_API_KEY", None)
    client = JudgeClient(Settings(judge_model=MODEL, judge_base_url=server.base_url))
    response_model = _response_model("yes_no")
    server.default = verdict("yes", "polite")
    common = {
        "model": MODEL,
        "messages": MESSAGES,
        "api_base": server.base_url,
        "api_key": "no-key-needed",
        "temperature": 0.0,
        "timeout": 60.0,
        "num_retries": 0,
        "max_retries": 0,
    }

    def bare() -> None:
        litellm.completion(**common)

    def bare_structured() -> None:
        litellm.completion(**common, response_format=response_model)

    def ours() -> None:
        client.ask(MESSAGES, response_model=response_model)

    for action in (bare, bare_structured, ours):  # warm up: imports, connections, caches
        for _ in range(20):
            action()
    results: dict[str, list[float]] = {"bare": [], "bare_structured": [], "ours": []}
    for _ in range(runs):
        for name, action in (("bare", bare), ("bare_structured", bare_structured), ("ours", ours)):
            results[name].append(per_call(200, action))
    medians = {name: statistics.median(values) for name, values in results.items()}
    print("(a) per verdict, zero server latency (median of batch medians, ms)")
    for name, value in medians.items():
        print(f"    {name:<16} {value * 1000:7.3f} ms")
    ratio = medians["ours"] / medians["bare_structured"]
    print(
        f"    ours / bare litellm.completion with the same response_format: {ratio:.3f}x"
        f"  (target <= 1.10) {'PASS' if ratio <= 1.10 else 'MISS'}"
    )
    print(
        f"    ours / bare litellm.completion without response_format:      "
        f"{medians['ours'] / medians['bare']:.3f}x"
    )


SUITE = """
import pytest
from pytest_genai import assert_judged

@pytest.mark.parametrize("n", range(200))
def test_answer(n):
    assert_judged(
        f"Answer number {n}: thanks, your refund is on its way.",
        ["is polite", "mentions the refund", "is short", "makes no promise it cannot keep"],
    )
"""


def concurrency(server: LLMServer, runs: int) -> None:
    server.reset()
    server.latency = 0.1
    server.default = verdict("yes", "fine")
    walls: list[float] = []
    sessions: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_bench.py").write_text(SUITE)
        Path(folder, "pytest.ini").write_text("[pytest]\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_", "PYTEST_"))}
        env.pop("OPENAI_API_KEY", None)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--genai-judge-base-url={server.base_url}",
            f"--genai-judge-model={MODEL}",
            "--genai-judge-concurrency=4",
        ]
        for _ in range(runs):
            server.requests.clear()
            started = time.perf_counter()
            done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - started)
            found = re.search(r"200 passed in ([\d.]+)s", done.stdout)
            if done.returncode != 0 or found is None:
                raise SystemExit(f"benchmark run failed:\n{done.stdout}\n{done.stderr}")
            sessions.append(float(found.group(1)))
            assert len(server.requests) == 800
    wall = statistics.median(walls)
    ideal = 200 * 0.1
    print("(b) 200 assert_judged x 4 criteria, 100 ms server latency, concurrency 4")
    print(
        f"    wall {wall:.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)}); ideal {ideal:.1f} s"
    )
    verdict_text = "PASS" if wall / ideal <= 1.3 else "MISS"
    print(f"    ratio {wall / ideal:.3f}x  (target <= 1.30) {verdict_text}")
    session = statistics.median(sessions)
    print(f"    pytest's own session time {session:.2f} s: {session / ideal:.3f}x of the ideal")
    print("    (wall includes interpreter and plugin start-up; both include the litellm import)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    with LLMServer() as server:
        overhead(server, args.runs)
        concurrency(server, max(1, args.runs // 2))


if __name__ == "__main__":
    main()
