"""Measure what pytest-genai costs a test run: its own code, its dependencies' plugins, recording.

A generated suite of 1000 trivial tests in 100 files is run with `python -m pytest -q -p
no:cacheprovider` in a subprocess and the wall time of the whole command is taken. Every variant
runs once per repetition, in a fresh (seeded) random order, so machine noise hits all of them
alike; figures are ratios (or differences) of medians over the repetitions.

(a) plugin on vs `-p no:genai` in the user venv (our own code), target <= 1.03;
(b) the user venv vs a bare venv with only pytest (our dependencies' plugins too), target
    <= 1.25, with each pytest11 plugin's share (all on minus that one off) and the cost no
    `-p no:` removes (everything off in the user venv vs the bare venv);
(c) every test records 3 feedback values vs none, target <= 1.10.

Usage: `.venv/bin/python benchmarks/bench_overhead.py [--runs N] [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GENERATED = HERE / "_generated"
BARE_VENV = HERE / "_venvs" / "bare"
USER_VENV = HERE / "_venvs" / "user"
FILES, TESTS_PER_FILE = 100, 10
PYTEST_ARGS = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
# Variables that would change what a run loads or does; the runs get a clean environment.
DROP_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
RECORD = 'genai.record("a", 0.5); genai.record("b", True); genai.record("c", "yes")'
SUITES: dict[str, Callable[[int], str]] = {
    "plain": lambda n: f"def test_{n}():\n    assert True\n",
    "fixture": lambda n: f"def test_{n}(genai):\n    assert True\n",
    "record": lambda n: f"def test_{n}(genai):\n    {RECORD}\n",
}
# The same 1000 tests as one function per file parametrized 10 ways: an evaluation suite's shape,
# where the summary has one row per function and scorer (300) instead of per test (3000).
PARAM = "import pytest\n\n@pytest.mark.parametrize('case', range(10))\n"
PARAM_SUITES: dict[str, str] = {
    "plain_param": PARAM + "def test_case(case):\n    assert True\n",
    "record_param": PARAM + f"def test_case(case, genai):\n    {RECORD}\n",
}


@dataclass
class Variant:
    """One command to time: an interpreter, a generated suite and extra pytest arguments."""

    label: str
    python: Path
    suite: str
    args: tuple[str, ...] = ()
    times: list[float] = field(default_factory=list)  # wall seconds
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the run
    lines: int = 0  # lines of output (of the warm-up run)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def generate_suites() -> None:
    """Write each suite with its own `pytest.ini`, so the project's pytest config is not used."""
    for name, body in SUITES.items():
        suite = GENERATED / name
        suite.mkdir(parents=True, exist_ok=True)
        (suite / "pytest.ini").write_text("[pytest]\n")
        for f in range(FILES):
            tests = (body(f * TESTS_PER_FILE + t) for t in range(TESTS_PER_FILE))
            (suite / f"test_f{f:03d}.py").write_text("\n\n".join(tests))
    for name, text in PARAM_SUITES.items():
        suite = GENERATED / name
        suite.mkdir(parents=True, exist_ok=True)
        (suite / "pytest.ini").write_text("[pytest]\n")
        for f in range(FILES):
            (suite / f"test_f{f:03d}.py").write_text(text)


def run_env() -> dict[str, str]:
    """The environment minus pytest/genai knobs; bytecode is cached under `_generated/`.

    Bytecode caching is on (this machine may set PYTHONDONTWRITEBYTECODE, which would recompile
    an editable install on every run) and goes to one prefix, so nothing outside
    `benchmarks/` is written and both venvs are treated alike.
    """
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV and not k.startswith("GENAI_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(GENERATED / "_pycache")
    return env


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(variant: Variant, env: dict[str, str]) -> tuple[float, float, str]:
    """Run the variant's pytest command; return wall time, CPU time and output (it must pass)."""
    cmd = [str(variant.python), *PYTEST_ARGS, *variant.args]
    cpu, start = child_cpu(), time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=GENERATED / variant.suite, env=env, capture_output=True, text=True, check=False
    )
    elapsed, cpu = time.perf_counter() - start, child_cpu() - cpu
    expected = f"{FILES * TESTS_PER_FILE} passed"
    if proc.returncode != 0 or expected not in proc.stdout:
        sys.exit(f"{variant.label}: {' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, cpu, proc.stdout + proc.stderr


def python_json(python: Path, code: str) -> object:
    """Evaluate `code` (which prints JSON) in another interpreter."""
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


PLUGINS_CODE = """import json
from importlib.metadata import entry_points, distributions
eps = entry_points(group="pytest11")
print(json.dumps({"plugins": [[ep.name, f"{ep.dist.name} {ep.dist.version}"] for ep in eps],
                  "dists": len({d.metadata["Name"] for d in distributions()})}))"""
PINS_CODE = """import json, sys
from importlib.metadata import requires, version
from packaging.requirements import Requirement
reqs = [Requirement(r) for r in requires("pytest") or []]
names = [r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
print(json.dumps({"base": sys._base_executable,
                  "pins": [f"{n}=={version(n)}" for n in ["pytest", *names]]}))"""


def ensure_bare_venv(main_python: Path) -> Path:
    """A venv with pytest and its own dependencies only, at the project venv's versions."""
    python = BARE_VENV / "bin" / "python"
    info = python_json(main_python, PINS_CODE)
    assert isinstance(info, dict)
    if not python.exists():
        print(f"creating {BARE_VENV} with {' '.join(info['pins'])}", flush=True)
        subprocess.run([info["base"], "-m", "venv", str(BARE_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *info["pins"]], check=True)
    return python


def ensure_user_venv(dev_python: Path) -> Path:
    """A venv as a user gets it: `pip install pytest-genai` from this checkout, no dev extra
    (the dev extra's own pytest plugins, hypothesis above all, are not what users install)."""
    python = USER_VENV / "bin" / "python"
    if not python.exists():
        info = python_json(dev_python, PINS_CODE)
        assert isinstance(info, dict)
        print(f"creating {USER_VENV} with pytest-genai from {REPO}", flush=True)
        subprocess.run([info["base"], "-m", "venv", str(USER_VENV)], check=True)
        subprocess.run([*_pip(python), *info["pins"], str(REPO)], check=True)
    else:  # the package as it is now, its dependencies as they are
        subprocess.run([*_pip(python), "--no-deps", "--force-reinstall", str(REPO)], check=True)
    return python


def _pip(python: Path) -> list[str]:
    return [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]


def measure(variants: list[Variant], runs: int, env: dict[str, str]) -> None:
    """One warm-up run each (writes bytecode), then `runs` repetitions of all, each in a new
    (seeded) random order so that no variant always follows the same one."""
    for v in variants:
        v.lines = len(run_once(v, env)[2].splitlines())
    rng = random.Random(20240601)
    for r in range(runs):
        order = variants[:]
        rng.shuffle(order)
        for v in order:
            wall, cpu, _ = run_once(v, env)
            v.times.append(wall)
            v.cpu.append(cpu)
        print(f"  repetition {r + 1}/{runs} done", flush=True)


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per variant (5)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions (overrides --runs)")
    parser.add_argument(
        "--python",
        type=Path,
        default=None,
        help="an interpreter with pytest-genai installed (default: benchmarks/_venvs/user, a "
        "plain `pip install` of this checkout, made on first use)",
    )
    opts = parser.parse_args()
    runs = 3 if opts.quick else opts.runs
    dev_py = REPO / ".venv" / "bin" / "python"
    main_py = opts.python.absolute() if opts.python else ensure_user_venv(dev_py)
    generate_suites()
    env = run_env()
    bare_py = ensure_bare_venv(main_py)
    full_info = python_json(main_py, PLUGINS_CODE)
    bare_info = python_json(bare_py, PLUGINS_CODE)
    assert isinstance(full_info, dict) and isinstance(bare_info, dict)
    plugins: list[str] = [name for name, _ in full_info["plugins"]]

    def block(*names: str) -> tuple[str, ...]:
        return tuple(a for p in names for a in ("-p", f"no:{p}"))

    on = Variant("user venv, all plugins on", main_py, "plain")
    bare = Variant("bare venv (pytest only)", bare_py, "plain")
    off = {p: Variant(f"user venv, -p no:{p}", main_py, "plain", block(p)) for p in plugins}
    only = {
        p: Variant(
            f"user venv, only {p} on", main_py, "plain", block(*(q for q in plugins if q != p))
        )
        for p in plugins
    }
    no_genai = off["genai"]
    all_off = Variant("user venv, all pytest11 off", main_py, "plain", block(*plugins))
    fixture = Variant("fixture, no record", main_py, "fixture")
    record = Variant("record 3 values", main_py, "record")
    report = Variant("record 3 + --genai-report", main_py, "record", ("--genai-report=out.json",))
    plain_param = Variant("parametrized, plain", main_py, "plain_param")
    record_param = Variant("parametrized, record 3 values", main_py, "record_param")
    variants = [
        *[on, bare, *off.values(), *only.values(), all_off],
        *[fixture, record, report, plain_param, record_param],
    ]

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "pytest_genai"], capture_output=True)
    print(f"commit {head.stdout.strip()}{' + uncommitted changes' * bool(dirty.stdout)}")
    print(f"user venv:    {full_info['dists']} dists, pytest11: {full_info['plugins']}")
    print(f"bare venv:    {bare_info['dists']} dists, pytest11: {bare_info['plugins']}")
    print(f"{len(variants)} variants x {runs} runs (+1 warm-up) ...", flush=True)
    measure(variants, runs, env)

    print(f"\nWall time per run, {FILES * TESTS_PER_FILE} tests in {FILES} files (seconds)")
    print(f"{'variant':<40} {'median':>7} {'min':>7} {'max':>7} {'cpu med':>7} {'out lines':>9}")
    for v in variants:
        t = v.times
        print(
            f"{v.label:<40} {v.median:7.3f} {min(t):7.3f} {max(t):7.3f} {v.cpu_median:7.3f}"
            f" {v.lines:9d}"
        )

    overhead = on.median - bare.median
    print(f"\n(b) startup cost by plugin (all on {on.median:.3f}s, bare {bare.median:.3f}s)")
    print("  marginal = all on - X off (what `-p no:X` saves); alone = only X on - all off")
    print(f"{'share':<50} {'marginal ms':>11} {'%':>6} {'alone ms':>9} {'%':>6}")
    rows = [
        (f"pytest11 {p!r} ({dist})", on.median - off[p].median, only[p].median - all_off.median)
        for p, dist in full_info["plugins"]
    ]
    rows.append(("not removable (all off - bare)", all_off.median - bare.median, None))
    rows.append(("shared/residual (total - rows above)", overhead - sum(r[1] for r in rows), None))
    rows.append(("total (user venv - bare venv)", overhead, None))
    for name, marginal, alone in rows:
        cells = [f"{1000 * marginal:11.1f}", f"{100 * marginal / overhead:5.1f}%"]
        if alone is not None:
            cells += [f"{1000 * alone:9.1f}", f"{100 * alone / overhead:5.1f}%"]
        print(f"{name:<50} {' '.join(cells)}")

    per_test_us = 1e6 * (record.median - on.median) / (FILES * TESTS_PER_FILE)
    figures = [
        ("(a) genai on / -p no:genai", on, no_genai, 1.03),
        ("(b) user venv / bare venv", on, bare, 1.25),
        ("(c) record 3 values / none", record, on, 1.10),
        ("    fixture only / none (info)", fixture, on, None),
        ("    record + --genai-report / none (info)", report, on, None),
        ("    parametrized: record 3 / none (info)", record_param, plain_param, None),
    ]
    print(f"\nFigures (ratio of medians, {runs} runs each; verdict on wall time)")
    print(f"{'figure':<42} {'wall':>7} {'cpu':>7} {'target':>7}  result")
    for name, a, b, target in figures:
        ratio = a.median / b.median
        status = verdict(ratio, target) if target is not None else ""
        tgt = f"<={target:.2f}" if target is not None else "-"
        cpu_ratio = a.cpu_median / b.cpu_median
        print(f"{name:<42} {ratio:6.3f}x {cpu_ratio:6.3f}x {tgt:>7}  {status}")
    print(f"(c) costs {per_test_us:.0f} us per test (fixture, 3 values, summary table).")
    print("For reference on (b): DeepEval 3.46x, LangSmith 1.91x on the same shape of suite.")


if __name__ == "__main__":
    main()
