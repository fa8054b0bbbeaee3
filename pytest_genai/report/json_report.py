"""The JSON report (`--genai-report`): run metadata, every case and the aggregates, versioned."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from pytest_genai.files import write_atomic
from pytest_genai.report.aggregate import ScorerSummary, Totals
from pytest_genai.report.baseline import BaselineComparison
from pytest_genai.report.gates import Gate
from pytest_genai.report.repeats import RepeatedCase
from pytest_genai.results import CaseResult
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


def write_report(path: Path, report: Report) -> None:
    """The report as indented JSON, written whole or not at all."""
    write_atomic(path, report.model_dump_json(indent=2) + "\n")


class ReportFileError(ValueError):
    """A report file that can't be used: missing, not JSON, another schema version, invalid."""


def load_report(path: Path) -> Report:
    """Read a JSON report written by `--genai-report` (or by a merge); `ReportFileError`
    says what is wrong with it and where."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportFileError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportFileError(
            f"{path}: not a pytest-genai report (it has no schema_version); give a file "
            "written by --genai-report"
        )
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise ReportFileError(
            f"{path}: report schema version {version!r}, but this pytest-genai reads version "
            f"{SCHEMA_VERSION}: write it again with this version"
        )
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise ReportFileError(f"{path}: not a valid report: {problems}{more}") from None


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
