"""The JSON report (`--genai-report`): run metadata, every case and the aggregates, versioned."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pytest_genai.files import write_atomic
from pytest_genai.report.aggregate import ScorerSummary, Totals
from pytest_genai.report.baseline import BaselineComparison
from pytest_genai.report.gates import Gate
from pytest_genai.report.repeats import RepeatedCase
from pytest_genai.results import CaseResult, Feedback, PromptUse, SpanRecord
from pytest_genai.secrets import MASK, SECRET_FIELD, Redactor

SCHEMA_VERSION = 1
"""Bumped whenever a field changes meaning or goes away (adding fields does not bump it)."""

_SECRET_FLAG = re.compile(r"(?i)^--?[\w.-]*(key|token|secret|password|passwd|auth)[\w.-]*$")


class RunInfo(BaseModel):
    """Where and how the run happened."""

    started_at: str
    finished_at: str
    duration: float
    exit_status: int
    plugin_version: str
    pytest_version: str
    python_version: str
    platform: str
    git_commit: str | None = None
    pytest_args: list[str]
    judge_model: str
    merged_from: list[str] = []
    """The shard reports this one was merged from (`python -m pytest_genai merge`)."""


class Report(BaseModel):
    """The whole JSON report."""

    schema_version: int = SCHEMA_VERSION
    run: RunInfo
    totals: Totals
    summaries: list[ScorerSummary]
    gates: list[Gate] = []
    repeated_cases: list[RepeatedCase] = []
    baseline: BaselineComparison | None = None
    cases: list[CaseResult]
    unscored: list[CaseResult] = []
    """Tests that did not pass, in suites none of whose cases was scored in this run (a crash
    before any score, or a test that never uses pytest-genai): not in the aggregates. A merge
    counts them as cases when another shard scored their suite."""


def write_report(path: Path, report: Report) -> None:
    """The report as indented JSON, written whole or not at all."""
    write_atomic(path, report.model_dump_json(indent=2) + "\n")


class ReportFileError(ValueError):
    """A report file that can't be used: missing, not JSON, another schema version, invalid."""


def read_report_data(path: Path) -> dict[str, Any]:
    """A report file's JSON, checked to be a report of this schema version (not validated)."""
    return _checked(path, read_report_json(path))


def read_report_json(path: Path) -> dict[str, Any]:
    """A report file's JSON object, of any schema version (not validated)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise ReportFileError(f"{path}: not a report: nested too deeply") from None
    except ValueError as exc:
        raise ReportFileError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportFileError(
            f"{path}: not a pytest-genai report (it has no schema_version); give a file "
            "written by --genai-report"
        )
    return data


def _checked(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportFileError(
            f"{path}: report schema version {version!r}, but this pytest-genai reads version "
            f"{SCHEMA_VERSION}: write it again with this version"
        )
    return data


@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: a report makes millions of objects and no cycles,
    and collections triggered while making them took three quarters of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_report(path: Path, data: dict[str, Any] | None = None, slim: bool = False) -> Report:
    """Read a JSON report written by `--genai-report` (or by a merge); `ReportFileError`
    says what is wrong with it and where. Fields a newer pytest-genai added are ignored (adding
    fields does not change the schema version). `slim` leaves out what a comparison does not
    need: each case's inputs, outputs, expectations and trace."""
    with paused_collection():
        return _load(path, data, slim)


def _load(path: Path, data: dict[str, Any] | None, slim: bool) -> Report:
    data = read_report_data(path) if data is None else _checked(path, data)
    if slim:
        _prune(data, slim)
    try:
        try:
            return Report.model_validate(data)
        except ValidationError as exc:
            if not any(error["type"] == "extra_forbidden" for error in exc.errors()):
                raise
            _prune(data, slim)  # a newer version's report: the fields it added, left out
            return Report.model_validate(data)
    except RecursionError:
        raise ReportFileError(f"{path}: not a valid report: nested too deeply") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise ReportFileError(f"{path}: not a valid report: {problems}{more}") from None


_SLIM_LEFT_OUT = frozenset({"inputs", "outputs", "expectations", "trace"})


def _prune(data: dict[str, Any], slim: bool) -> None:
    for key in ("cases", "unscored"):
        cases = data.get(key)
        if isinstance(cases, list):
            data[key] = [_known_case(case, slim) for case in cases]


def _known_case(case: Any, slim: bool) -> Any:
    """A case's JSON with only the fields this version knows (the models forbid others, to
    catch mistakes in our own code), in its feedback, prompts and spans too."""
    if not isinstance(case, dict):
        return case  # validation says what is wrong
    known = CaseResult.model_fields
    kept = {k: v for k, v in case.items() if k in known and not (slim and k in _SLIM_LEFT_OUT)}
    for key, model in (("feedback", Feedback), ("prompts", PromptUse), ("trace", SpanRecord)):
        items = kept.get(key)
        if isinstance(items, list):
            fields = model.model_fields
            kept[key] = [
                {k: v for k, v in item.items() if k in fields} if isinstance(item, dict) else item
                for item in items
            ]
    return kept


def redact_args(args: Sequence[str]) -> list[str]:
    """Command-line arguments with secrets masked: the value of a secret-named flag (`--api-key
    X`, `--token=X`), of a secret-named `-o name=value`, and tokens or credentials anywhere."""
    redact = Redactor()
    redacted: list[str] = []
    mask_next = False
    for arg in args:
        if mask_next:
            redacted.append(MASK)
            mask_next = False
            continue
        name, eq, _ = arg.partition("=")
        if _SECRET_FLAG.match(name):
            if eq:
                redacted.append(f"{name}={MASK}")
            else:
                redacted.append(arg)
                mask_next = True
        elif eq and not arg.startswith("-") and SECRET_FIELD.match(name):
            redacted.append(f"{name}={MASK}")
        else:
            redacted.append(redact(arg))
    return redacted


def git_commit(cwd: Path) -> str | None:
    """The commit being tested: `GITHUB_SHA` in Actions, else `git rev-parse HEAD`, else None."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", out) else None


def python_info() -> tuple[str, str]:
    return platform.python_version(), platform.platform(terse=True)
