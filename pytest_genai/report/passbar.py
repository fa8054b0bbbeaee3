"""`genai.lock`: the pass bar of every gated suite, so it can't be lowered by accident.

A suite's pass bar is what decides whether it passes: the digest of its dataset, the judge
model, each scorer's identity (for a judge, digests of its instructions, result type and pass
rule) and the thresholds. `--genai-lock` writes the bars of the suites that ran (keeping the
entries of suites that did not); a later run whose bar differs from the locked one fails that
suite with a message naming what changed, until the lock is written again on purpose.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pytest_genai.files import write_atomic

LOCK_FILE = "genai.lock"
LOCK_VERSION = 1
PASSBAR_ATTR = "genai_passbar"
"""The teardown-report attribute of a gated case when pass bars are checked or written."""


class PassBar(BaseModel):
    """One gated suite's pass bar."""

    dataset: str
    """sha256 of the dataset's cases (all of them, before any sampling)."""
    judge_model: str | None = None
    """The run's judge model, when a scorer is an LLM judge without its own."""
    scorers: dict[str, str]
    """scorer name -> `code` or `judge <model> <identity digest>`."""
    thresholds: dict[str, str]
    """scorer name -> `pass_rate>=0.9` / `mean>=0.8`."""


def dataset_digest(cases: list[Any]) -> str:
    """The digest of a dataset's cases: ids, inputs, expectations, tags and metadata."""
    digest = hashlib.sha256()
    for case in cases:
        data = case.model_dump(mode="json", exclude={"repeat"})
        digest.update(json.dumps(data, sort_keys=True, default=repr).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def compute(dataset: str, scorers: list[Any], gates: list[Any], default_model: str) -> PassBar:
    """The pass bar of a suite from its dataset digest, resolved scorers and gate specs."""
    from pytest_genai.results import AssessmentSourceType

    identities: dict[str, str] = {}
    uses_default = False
    for scorer in scorers:
        if scorer.source_type is AssessmentSourceType.LLM_JUDGE and hasattr(scorer, "identity"):
            model = getattr(scorer, "model", None)
            uses_default = uses_default or model is None
            identity = json.dumps(scorer.identity(), sort_keys=True)
            digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
            identities[scorer.name] = f"judge {model or 'default'} {digest}"
        else:
            identities[scorer.name] = "code"
    thresholds = {g.scorer: f"{g.statistic}>={g.threshold:g}" for g in gates}
    return PassBar(
        dataset=dataset,
        judge_model=default_model if uses_default else None,
        scorers=identities,
        thresholds=thresholds,
    )


def differences(locked: PassBar, now: PassBar) -> list[str]:
    """What changed between the locked bar and this run's, in words."""
    found: list[str] = []
    if locked.dataset != now.dataset:
        found.append(f"the dataset changed (digest {locked.dataset[:12]} -> {now.dataset[:12]})")
    if locked.judge_model != now.judge_model:
        found.append(f"the judge model changed: {locked.judge_model} -> {now.judge_model}")
    for name in sorted(set(locked.scorers) | set(now.scorers)):
        before, after = locked.scorers.get(name), now.scorers.get(name)
        if before == after:
            continue
        if before is None:
            found.append(f"scorer {name} was added")
        elif after is None:
            found.append(f"scorer {name} was removed")
        elif before.split()[:2] != after.split()[:2]:
            found.append(
                f"scorer {name} changed: {before.rsplit(' ', 1)[0]} -> {after.rsplit(' ', 1)[0]}"
            )
        else:
            found.append(f"judge {name} changed (its instructions, result type or pass rule)")
    for name in sorted(set(locked.thresholds) | set(now.thresholds)):
        before, after = locked.thresholds.get(name), now.thresholds.get(name)
        if before == after:
            continue
        if before is None:
            found.append(f"a threshold on {name} was added: {after}")
        elif after is None:
            found.append(f"the threshold on {name} ({before}) was removed")
        else:
            found.append(f"the threshold on {name} changed: {before} -> {after}")
    return found


class LockFileError(Exception):
    """genai.lock can't be read: the message names the file and the fix."""


def read(path: Path) -> dict[str, PassBar]:
    """suite -> locked pass bar; {} when there is no lock file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise LockFileError(
            f"{path} can't be read ({exc}): restore it from version control, or write it "
            "again with --genai-lock"
        ) from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
            raise ValueError(f"expected a version {LOCK_VERSION} lock")
        return {suite: PassBar.model_validate(bar) for suite, bar in dict(data["suites"]).items()}
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise LockFileError(
            f"{path} can't be read ({first}): restore it from version control, or write it "
            "again with --genai-lock"
        ) from None


def write(path: Path, bars: dict[str, PassBar]) -> None:
    data = {
        "version": LOCK_VERSION,
        "about": "pass bars of gated genai_eval suites; written by pytest --genai-lock",
        "suites": {suite: bars[suite].model_dump() for suite in sorted(bars)},
    }
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def at_session_end(
    path: Path, write_lock: bool, bars: dict[str, dict[str, Any]]
) -> tuple[dict[str, list[str]], list[str]]:
    """Write the lock (`--genai-lock`) or check this run's bars against it. Returns the
    suites whose bar changed (suite -> what changed) and lines for the terminal."""
    current = {suite: PassBar.model_validate(bar) for suite, bar in bars.items()}
    try:
        locked = read(path)
    except LockFileError as exc:
        if not write_lock:
            return {suite: [str(exc)] for suite in current}, []
        locked = {}
    if write_lock:
        if not current:
            return {}, [f"genai: --genai-lock found no gated suite that ran; {path} not written"]
        try:
            write(path, {**locked, **current})
        except OSError as exc:
            return {suite: [f"{path} could not be written: {exc}"] for suite in current}, []
        return {}, [f"genai: locked the pass bar of {len(current)} gated suite(s) in {path}"]
    changed = {
        suite: found
        for suite, bar in sorted(current.items())
        if suite in locked and (found := differences(locked[suite], bar))
    }
    new = sorted(suite for suite in current if suite not in locked)
    lines = []
    if new:
        lines.append(
            f"genai: {len(new)} gated suite(s) not in {path.name} yet ({', '.join(new)}): "
            "lock them with --genai-lock"
        )
    return changed, lines
