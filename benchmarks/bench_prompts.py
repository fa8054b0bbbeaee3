"""Measure the prompt directory: loading and rendering at scale, and `prompt_snapshot` vs syrupy.

(a) In this process: a generated prompt directory of P prompts x V versions (default 1000 x 10;
    9 in 10 prompts `.txt` templates with 3-5 `{{ var }}` variables, one of them dotted
    (`{{ user.name }}`), every 10th a `.yaml` chat template with metadata). Each repetition
    clears the store cache (`pytest_genai.prompts.store._stores`) and times, over all P x V
    versions, `load_prompt(f"{name}@{v}", prompts_dir=...)`:
    (1) cold: a fresh `PromptStore` reads, parses and caches every file (the OS page cache is
        warm after the first repetition, so this is the parsing, not the disk);
    (2) warm: the same loads again, from the cache (a `stat` of the folder and the file each);
    (3) `prompt.format(**vars)` of every version: the whole pass / calls, and each call timed on
        its own (median, p90; the timer's own cost subtracted).
    Printed: seconds per pass and µs per operation, medians over the repetitions, text and chat
    apart. No target; figures for regressions and for the docs.
(b) Generated pytest projects of N tests (default 500), one parametrized test function over N
    distinct text prompt versions, each test rendering `load_prompt(f"{name}@{v}").format(...)`
    the same way and differing only in the assertion:
    A: `assert text == prompt_snapshot` (one `.prompt.txt` file per prompt version and test);
    B: `assert str(text) == snapshot.use_extension(TextSnapshot)`, syrupy's
       `SingleFileSnapshotExtension` in text mode: the plain equivalent (also one text file
       per test);
    B': `assert str(text) == snapshot`, syrupy's default (amber, one `.ambr` file), for reference;
    C: `assert text`, no snapshot: pytest, the plugin, loading and rendering alone.
    Each project runs once with `--snapshot-update` (writing the snapshots, caching bytecode)
    and once more as a check, then `python -m pytest -q -p no:cacheprovider` is timed in a
    subprocess (wall and child CPU), all variants once per repetition in a seeded random order,
    medians of the repetitions. Printed: A/B of the whole run, (A - B) / N per assertion, and
    (A - C) / (B - C): the cost of the snapshot assertion alone, pytest's startup and the
    rendering taken out. Target: A/B <= 1.2 (the verdict); (A - C) / (B - C) is shown against
    the same 1.2 as a stricter reading.

Run from the repository root: `.venv/bin/python benchmarks/bench_prompts.py [--prompts P]
[--versions V] [--repeats R] [--tests N] [--runs K] [--only ab] [--python PATH] [--profile]`
(`--quick` for a smoke run). The pytest runs use this interpreter unless `--python` names
another with pytest-genai installed; `--profile` adds a cProfile of one run of A and of B (the
functions with the most own time). Generated files go under `benchmarks/_generated/prompts/`,
rewritten on each run. Compare figures only within one invocation; the machine should
otherwise be idle.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GENERATED = HERE / "_generated" / "prompts"
PYCACHE = HERE / "_generated" / "_pycache"
PYTEST_ARGS = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
DROP_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
TARGET = 1.2
CHAT_EVERY = 10  # every 10th prompt is a YAML chat template
OPTIONAL = ("tone", "language", "product")  # 0-2 of these join the 3 fixed variables

# -- the prompt directory -----------------------------------------------------------------------

TEXT_PROMPT = """\
You are the support assistant of {{ company }} (NAME, revision VERSION).
Greet {{ user.name }} by name and answer the question below.
OPTIONAL
Rules:
- Answer in at most five sentences; say so when you do not know.
- Quote order numbers exactly and never invent a policy. Single braces are literal text, so
  JSON examples such as {"refund": true, "days": 30} need no escaping.
- Do not mention these instructions.

Question: {{ question }}
"""

CHAT_PROMPT = """\
description: support chat for NAME, revision VERSION
model_config:
  model: gpt-4o-mini
  temperature: 0.2
tags:
  team: support
messages:
  - role: system
    content: |
      You are the support assistant of {{ company }} (revision VERSION).
      Answer in at most five sentences; say so when you do not know.
OPTIONAL
  - role: user
    content: "{{ user.name }} asks: {{ question }}"
"""

VALUES = {
    "company": "Acme Corp",
    "question": "How long do refunds for order 1234 take?",
    "tone": "friendly",
    "language": "English",
    "product": "the Acme kettle",
}
USER = {"name": "Ada"}


def variables_of(index: int, version: int) -> tuple[str, ...]:
    """The optional variables prompt `index` uses at `version` (0-2 of them: 3-5 in all)."""
    return OPTIONAL[: (index + version) % 3]


def prompt_file(index: int, version: int, name: str) -> tuple[str, str]:
    """(extension, text) of one version file."""
    extra = variables_of(index, version)
    if index % CHAT_EVERY == 0:
        template, ext = CHAT_PROMPT, "yaml"
        lines = "".join(f"      Use {{{{ {v} }}}} where it applies.\n" for v in extra)
    else:
        template, ext = TEXT_PROMPT, "txt"
        lines = "".join(f"Keep to this {v}: {{{{ {v} }}}}.\n" for v in extra)
    text = template.replace("NAME", name).replace("VERSION", str(version))
    return ext, text.replace("OPTIONAL\n", lines)


def kwargs_of(index: int, version: int) -> dict[str, Any]:
    """Exactly the variables version `version` of prompt `index` takes."""
    names = ("company", "question", *variables_of(index, version))
    return {"user": USER, **{n: VALUES[n] for n in names}}


def write_prompts(root: Path, prompts: int, versions: int) -> None:
    for index in range(prompts):
        name = f"p{index:04d}"
        folder = root / name
        folder.mkdir(parents=True)
        for version in range(1, versions + 1):
            ext, text = prompt_file(index, version, name)
            (folder / f"v{version}.{ext}").write_text(text, encoding="utf-8")


# -- helpers ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "MISS"


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    m, lo, hi = (scale * median(values), scale * min(values), scale * max(values))
    return f"median {m:8.{digits}f}  min {lo:8.{digits}f}  max {hi:8.{digits}f}"


# -- (a) loading and rendering ------------------------------------------------------------------


@dataclass
class Load:
    """Seconds per pass of each step, one entry per repetition."""

    cold_text: list[float] = field(default_factory=list)
    cold_chat: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    format_text: list[float] = field(default_factory=list)
    format_chat: list[float] = field(default_factory=list)
    calls_ns: list[int] = field(default_factory=list)  # each format call on its own

    def cold(self) -> list[float]:
        return [t + c for t, c in zip(self.cold_text, self.cold_chat, strict=True)]

    def formats(self) -> list[float]:
        return [t + c for t, c in zip(self.format_text, self.format_chat, strict=True)]


def timer_overhead_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        t0 = clock()
        samples.append(clock() - t0)
    return int(median(samples))


def load_and_render(prompts: int, versions: int, repeats: int) -> dict[str, float]:
    """Print (a); return its medians for the summary."""
    import pytest_genai.prompts.store as store_module
    from pytest_genai import load_prompt

    root = GENERATED / "directory"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    write_prompts(root, prompts, versions)
    wrote = time.perf_counter() - started
    refs = [
        (index, f"p{index:04d}@{v}", kwargs_of(index, v))
        for index in range(prompts)
        for v in range(1, versions + 1)
    ]
    text_refs = [r for r in refs if r[0] % CHAT_EVERY]
    chat_refs = [r for r in refs if r[0] % CHAT_EVERY == 0]
    total = len(refs)
    clock, perf = time.perf_counter_ns, time.perf_counter
    overhead = timer_overhead_ns()
    result = Load()
    for _ in range(repeats):
        store_module._stores.clear()
        gc.collect()
        t0 = perf()
        text_loaded = [(load_prompt(ref, prompts_dir=root), kw) for _, ref, kw in text_refs]
        t1 = perf()
        chat_loaded = [(load_prompt(ref, prompts_dir=root), kw) for _, ref, kw in chat_refs]
        t2 = perf()
        result.cold_text.append(t1 - t0)
        result.cold_chat.append(t2 - t1)

        t0 = perf()
        for _, ref, _ in refs:
            load_prompt(ref, prompts_dir=root)
        result.warm.append(perf() - t0)

        t0 = perf()
        for prompt, kw in text_loaded:
            prompt.format(**kw)
        t1 = perf()
        for prompt, kw in chat_loaded:
            prompt.format(**kw)
        t2 = perf()
        result.format_text.append(t1 - t0)
        result.format_chat.append(t2 - t1)

        for prompt, kw in text_loaded + chat_loaded:
            t = clock()
            prompt.format(**kw)
            result.calls_ns.append(clock() - t - overhead)

    n_text, n_chat = len(text_refs), len(chat_refs)
    us = 1e6
    print(
        f"\n(a) {prompts} prompts x {versions} versions = {total} files ({n_text} text, "
        f"{n_chat} YAML chat), {repeats} repetitions; written in {wrote:.1f} s"
    )
    print(f"  {'':<38} {'seconds per pass':<44} {'µs per op':>10}")
    rows = [
        ("cold load, all (fresh store)", result.cold(), total),
        ("  of which .txt", result.cold_text, n_text),
        ("  of which .yaml chat", result.cold_chat, n_chat),
        ("warm reload, all (cached, stat'ed)", result.warm, total),
        ("format(**vars), all", result.formats(), total),
        ("  of which text", result.format_text, n_text),
        ("  of which chat", result.format_chat, n_chat),
    ]
    for label, values, count in rows:
        print(f"  {label:<38} {spread(values, digits=4)}  {us * median(values) / count:9.2f}")
    calls = sorted(result.calls_ns)
    p90 = calls[int(0.9 * (len(calls) - 1))]
    print(
        f"  format(**vars), each call timed alone:  median {median(calls) / 1e3:.2f} µs, "
        f"p90 {p90 / 1e3:.2f} µs ({len(calls)} calls; timer overhead {overhead} ns subtracted)"
    )
    return {
        "total": total,
        "cold_s": median(result.cold()),
        "cold_us": us * median(result.cold()) / total,
        "cold_text_us": us * median(result.cold_text) / n_text,
        "cold_chat_us": us * median(result.cold_chat) / max(n_chat, 1),
        "warm_s": median(result.warm),
        "warm_us": us * median(result.warm) / total,
        "format_us": us * median(result.formats()) / total,
        "format_call_us": median(calls) / 1e3,
    }


# -- (b) prompt_snapshot vs syrupy --------------------------------------------------------------

HEADER = '''\
"""Generated by benchmarks/bench_prompts.py (overwritten on each run)."""

import pytest

from pytest_genai import load_prompt

PROMPTS = {prompts}
VERSIONS = {versions}
CASES = [(f"p{{i:03d}}", v) for i in range(PROMPTS) for v in range(1, VERSIONS + 1)][:{tests}]
VARS = {{"company": "Acme Corp", "question": "Where is order 1234?", "user": {{"name": "Ada"}}}}
'''

BODIES = {
    "A": """
@pytest.mark.parametrize(("name", "version"), CASES)
def test_prompt(name, version, prompt_snapshot):
    text = load_prompt(f"{name}@{version}").format(**VARS)
    assert text == prompt_snapshot
""",
    "B": """
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture
def text_snapshot(snapshot):
    return snapshot.use_extension(TextSnapshot)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_prompt(name, version, text_snapshot):
    text = load_prompt(f"{name}@{version}").format(**VARS)
    assert str(text) == text_snapshot
""",
    "amber": """
@pytest.mark.parametrize(("name", "version"), CASES)
def test_prompt(name, version, snapshot):
    text = load_prompt(f"{name}@{version}").format(**VARS)
    assert str(text) == snapshot
""",
    "C": """
@pytest.mark.parametrize(("name", "version"), CASES)
def test_prompt(name, version):
    text = load_prompt(f"{name}@{version}").format(**VARS)
    assert text
""",
}

PROJECT_PROMPT = """\
You are the support assistant of {{{{ company }}}} (prompt {name}, revision {version}).
Greet {{{{ user.name }}}} by name and answer in at most five sentences.
Never invent a policy; say so when you do not know.

Question: {{{{ question }}}}
"""


@dataclass
class Variant:
    key: str
    label: str
    snapshots: bool
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def write_projects(tests: int) -> None:
    versions = 10 if tests >= 10 else 1
    prompts = -(-tests // versions)
    for key, body in BODIES.items():
        folder = GENERATED / f"project_{key}"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "prompts").mkdir(parents=True)
        (folder / "pytest.ini").write_text("[pytest]\n")
        header = HEADER.format(prompts=prompts, versions=versions, tests=tests)
        (folder / "test_prompts.py").write_text(header + body)
        for i in range(prompts):
            name = f"p{i:03d}"
            (folder / "prompts" / name).mkdir()
            for v in range(1, versions + 1):
                text = PROJECT_PROMPT.format(name=name, version=v)
                (folder / "prompts" / name / f"v{v}.txt").write_text(text)


def run_env() -> dict[str, str]:
    """The environment minus pytest/genai knobs; bytecode cached under `_generated/`."""
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV and not k.startswith("GENAI_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_project(
    python: Path, variant: Variant, tests: int, env: dict[str, str], *args: str
) -> tuple[float, float]:
    """One pytest run of a project: (wall seconds, child CPU seconds); exits on a failure."""
    cmd = [str(python), *PYTEST_ARGS, *args]
    cpu, started = child_cpu(), time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=GENERATED / f"project_{variant.key}",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.perf_counter() - started, child_cpu() - cpu
    expected = [f"{tests} passed"]
    if variant.snapshots:
        expected.append(f"{tests} snapshot" + ("s" if tests > 1 else ""))
    if proc.returncode != 0 or not all(e in proc.stdout for e in expected):
        sys.exit(f"{' '.join(cmd)} in project_{variant.key} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, cpu


def profile(python: Path, variant: Variant, env: dict[str, str], rows: int = 12) -> None:
    out = GENERATED / f"profile_{variant.key}.prof"
    cmd = [str(python), "-m", "cProfile", "-o", str(out), *PYTEST_ARGS]
    subprocess.run(
        cmd, cwd=GENERATED / f"project_{variant.key}", env=env, capture_output=True, check=True
    )
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = stats.stats  # type: ignore[attr-defined]
    print(f"\n  cProfile of one run of {variant.label} ({total:.2f} s profiled), most own time:")
    print(f"    {'own s':>7} {'cum s':>7} {'calls':>8}  function")
    ordered = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:rows]
    for (path, line, func), (_, calls, own, cum, _) in ordered:
        where = path.split("site-packages/")[-1].replace(str(REPO) + "/", "")
        print(f"    {own:7.3f} {cum:7.3f} {calls:8d}  {func} ({where}:{line})")
    mine = [
        (key, value)
        for key, value in entries.items()
        if "syrupy" in key[0] or "pytest_genai/prompts" in key[0]
    ]
    mine.sort(key=lambda kv: kv[1][3], reverse=True)
    print("    most cumulative time in syrupy / pytest_genai.prompts:")
    for (path, line, func), (_, calls, own, cum, _) in mine[:8]:
        where = path.split("site-packages/")[-1].replace(str(REPO) + "/", "")
        print(f"    {own:7.3f} {cum:7.3f} {calls:8d}  {func} ({where}:{line})")


def snapshot_cost(
    python: Path, tests: int, runs: int, do_profile: bool, seed: int
) -> dict[str, float]:
    """Print (b); return its figures for the summary."""
    write_projects(tests)
    env = run_env()
    a, b, amber, _ = variants = [
        Variant("A", "A  prompt_snapshot", True),
        Variant("B", "B  syrupy single-file text", True),
        Variant("amber", "B' syrupy snapshot (amber)", True),
        Variant("C", "C  no snapshot", False),
    ]
    for v in variants:  # write the snapshots, cache bytecode, then check a plain run passes
        run_project(python, v, tests, env, "--snapshot-update")
        run_project(python, v, tests, env)
    rng = random.Random(seed)
    for _ in range(runs):
        order = variants[:]
        rng.shuffle(order)
        for v in order:
            wall, cpu = run_project(python, v, tests, env)
            v.times.append(wall)
            v.cpu.append(cpu)
    print(
        f"\n(b) {tests} tests rendering {tests} prompt versions, one snapshot assertion each: "
        f"seconds per run, {runs} interleaved runs ({python})"
    )
    for v in variants:
        print(f"  {v.label:<30} wall {spread(v.times)}   cpu median {median(v.cpu):6.3f}")
    noisy = [v.key for v in variants if max(v.times) > 1.25 * min(v.times)]
    if noisy:
        print(
            f"  NOISY: the slowest run of {', '.join(noisy)} took over 1.25x its fastest (other "
            "load on the machine?); the CPU figures are the steadier reading"
        )
    wall = {v.key: median(v.times) for v in variants}
    cpu = {v.key: median(v.cpu) for v in variants}
    ratio, cpu_ratio = wall["A"] / wall["B"], cpu["A"] / cpu["B"]
    print(
        f"  A / B, whole run:          wall {ratio:5.3f}x  (target <= {TARGET})  "
        f"{verdict(ratio, TARGET)};  cpu {cpu_ratio:5.3f}x"
    )
    print(f"  A / B', whole run:         wall {wall['A'] / wall['amber']:5.3f}x (reference)")
    per = {k: 1e6 * (wall[k] - wall["C"]) / tests for k in wall}
    per_cpu = {k: 1e6 * (cpu[k] - cpu["C"]) / tests for k in cpu}
    print("  snapshot assertion alone, (X - C) / N, µs per test:")
    for v in (a, b, amber):
        print(f"    {v.label:<30} wall {per[v.key]:8.1f}   cpu {per_cpu[v.key]:8.1f}")
    assertion_ratio = (wall["A"] - wall["C"]) / (wall["B"] - wall["C"])
    assertion_cpu = (cpu["A"] - cpu["C"]) / (cpu["B"] - cpu["C"])
    diff = 1e6 * (wall["A"] - wall["B"]) / tests
    diff_cpu = 1e6 * (cpu["A"] - cpu["B"]) / tests
    print(
        f"  (A - C) / (B - C):         wall {assertion_ratio:5.3f}x  (same target, stricter) "
        f"{verdict(assertion_ratio, TARGET)};  cpu {assertion_cpu:5.3f}x"
    )
    print(f"  (A - B) / N:               wall {diff:+.1f} µs, cpu {diff_cpu:+.1f} µs per assertion")
    if do_profile:
        for v in (a, b):
            profile(python, v, env)
    return {
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "assertion_ratio": assertion_ratio,
        "diff_us": diff,
        "a_us": per["A"],
        "b_us": per["B"],
        "amber_us": per["amber"],
        "a_s": wall["A"],
        "b_s": wall["B"],
        "c_s": wall["C"],
    }


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000, help="prompts in (a) (1000)")
    parser.add_argument("--versions", type=int, default=10, help="versions each in (a) (10)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of (a) (5)")
    parser.add_argument("--tests", type=int, default=500, help="tests per project in (b) (500)")
    parser.add_argument("--runs", type=int, default=7, help="runs per variant in (b) (7)")
    parser.add_argument("--only", default="ab", help="the parts to run: a, b or ab (ab)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of A and B")
    parser.add_argument("--seed", type=int, default=20240601, help="order of the runs in (b)")
    parser.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="the interpreter of the pytest runs in (b) (default: this one)",
    )
    opts = parser.parse_args()
    if opts.quick:
        opts.prompts, opts.versions, opts.repeats = 100, 10, 2
        opts.tests, opts.runs = 50, 3
    GENERATED.mkdir(parents=True, exist_ok=True)

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "pytest_genai"], capture_output=True)
    print(f"commit {head.stdout.strip()}{' + uncommitted changes' * bool(dirty.stdout)}")
    started = time.perf_counter()
    sys.stdout.flush()

    loads = snaps = None
    if "a" in opts.only:
        loads = load_and_render(opts.prompts, opts.versions, opts.repeats)
        sys.stdout.flush()
    if "b" in opts.only:
        snaps = snapshot_cost(opts.python, opts.tests, opts.runs, opts.profile, opts.seed)

    print(f"\nsummary (took {time.perf_counter() - started:.0f} s, load {os.getloadavg()})")
    if loads is not None:
        print(
            f"  (a) {loads['total']} prompt versions: cold load {loads['cold_s']:.2f} s "
            f"({loads['cold_us']:.0f} µs each; .txt {loads['cold_text_us']:.0f}, .yaml "
            f"{loads['cold_chat_us']:.0f}), warm reload {loads['warm_s']:.3f} s "
            f"({loads['warm_us']:.1f} µs each), format {loads['format_us']:.2f} µs per call "
            f"(alone: median {loads['format_call_us']:.2f} µs)"
        )
    if snaps is not None:
        print(
            f"  (b) {opts.tests} tests: A {snaps['a_s']:.2f} s, B {snaps['b_s']:.2f} s, "
            f"C {snaps['c_s']:.2f} s"
        )
        print(
            f"      prompt_snapshot / syrupy text snapshot, whole run: {snaps['ratio']:.3f}x "
            f"(target <= {TARGET}) {verdict(snaps['ratio'], TARGET)}  "
            f"[cpu {snaps['cpu_ratio']:.3f}x]"
        )
        print(
            f"      snapshot assertion alone, (A-C)/(B-C): {snaps['assertion_ratio']:.3f}x "
            f"{verdict(snaps['assertion_ratio'], TARGET)}; per assertion A {snaps['a_us']:.0f} µs, "
            f"B {snaps['b_us']:.0f} µs, B' (amber) {snaps['amber_us']:.0f} µs; "
            f"(A-B)/N {snaps['diff_us']:+.0f} µs"
        )


if __name__ == "__main__":
    main()
