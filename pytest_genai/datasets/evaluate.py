"""`evaluate()`: a whole dataset through the app and the scorers inside one test, concurrently.

MLflow's `genai.evaluate` shape: `predict_fn` is called with each case's `inputs` as keyword
arguments, its return value scored against the case's expectations. Inside a pytest test the
records join the run's report (one row per case under the test's suite); with `thresholds`
the test fails when a scorer's pass rate (or mean) is below its minimum.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, Field

from pytest_genai.datasets.formats import DatasetSource, load_dataset
from pytest_genai.datasets.model import Case
from pytest_genai.results import CaseResult, Feedback, json_safe
from pytest_genai.scoring.base import Scorer
from pytest_genai.scoring.registry import ScorerSpec, resolve_scorers


class EvaluationResult(BaseModel):
    """What `evaluate` measured: a record per case, in dataset order, and the metrics."""

    records: list[CaseResult]
    metrics: dict[str, float] = Field(default_factory=dict)
    """`<scorer>/pass_rate` and `<scorer>/mean` over every case (an error counts as a failed
    verdict and as 0), as MLflow names its metrics."""
    duration: float = 0.0

    @property
    def failed(self) -> list[CaseResult]:
        """Records with an error or a failed verdict."""
        return [r for r in self.records if r.outcome != "passed" or _any_failed(r.feedback)]


def _any_failed(feedback: list[Feedback]) -> bool:
    return any(f.error is not None or f.passed is False for f in feedback)


def evaluate(
    data: DatasetSource,
    predict_fn: Callable[..., Any],
    scorers: ScorerSpec | Iterable[ScorerSpec],
    *,
    max_workers: int = 8,
    thresholds: Mapping[str, Any] | None = None,
    id_field: str = "id",
) -> EvaluationResult:
    """Run `predict_fn(**case.inputs)` for every case of `data` (at most `max_workers` at once)
    and score each output with `scorers` against the case's expectations.

    An exception from `predict_fn` or a scorer makes that case an error; it never stops the
    others. In a test, every record joins the run's report. `thresholds` (as on the
    `genai_eval` marker, e.g. `{"correctness": 0.9}`) makes the call fail with
    `AssertionError` when a scorer's pass rate or mean is below its minimum.
    """
    __tracebackhide__ = True
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    from pytest_genai.scoring.assertions import current_session

    session = current_session()
    registered = session.registered_scorers if session is not None else {}
    resolved = resolve_scorers(scorers, registered)
    gates = None
    if thresholds is not None:
        from pytest_genai.report.gates import parse_thresholds

        gates = parse_thresholds(thresholds)
        names = {s.name for s in resolved}
        unknown = [g.scorer for g in gates if g.scorer not in names]
        if unknown:
            raise ValueError(f"thresholds names {unknown[0]!r}, which is not one of the scorers")
    cases = load_dataset(data, id_field=id_field)
    started = time.perf_counter()
    suite, max_chars = _where(session)
    with ThreadPoolExecutor(max_workers=min(max_workers, len(cases))) as pool:
        records = list(pool.map(lambda c: _run(c, predict_fn, resolved, suite, max_chars), cases))
    result = EvaluationResult(
        records=records, metrics=_metrics(resolved, records), duration=time.perf_counter() - started
    )
    _join_report(records)
    if gates:
        _check(suite, gates, records)
    return result


def _where(session: Any) -> tuple[str, int]:
    from pytest_genai.current import current_item

    item = current_item()
    suite = item.nodeid if item is not None else "evaluate"
    limit = session.settings.max_value_chars if session is not None else 4000
    return suite, limit


def _run(
    case: Case, predict_fn: Callable[..., Any], scorers: list[Scorer], suite: str, limit: int
) -> CaseResult:
    from pytest_genai.secrets import Redactor

    redact = Redactor()
    started = time.perf_counter()
    base: dict[str, Any] = {
        "nodeid": f"{suite}[{case.id}]",
        "suite": suite,
        "case_id": case.id,
        "inputs": json_safe(case.inputs, limit, redact),
        "expectations": json_safe(case.expectations, limit, redact),
    }
    try:
        outputs = predict_fn(**case.inputs)
    except Exception as exc:
        return CaseResult(
            **base,
            outcome="error",
            error=redact(f"predict_fn raised {type(exc).__name__}: {exc}")[:limit],
            duration=round(time.perf_counter() - started, 6),
        )
    from pytest_genai.recording import _cleaned

    feedback = [
        _cleaned(f, limit, redact)
        for scorer in scorers
        for f in scorer.run(inputs=case.inputs, outputs=outputs, expectations=case.expectations)
    ]
    errored = any(f.error is not None for f in feedback)
    return CaseResult(
        **base,
        outputs=json_safe(outputs, limit, redact),
        feedback=feedback,
        outcome="error" if errored else ("failed" if _any_failed(feedback) else "passed"),
        duration=round(time.perf_counter() - started, 6),
    )


def _metrics(scorers: list[Scorer], records: list[CaseResult]) -> dict[str, float]:
    """Per scorer: the pass rate when it gives verdicts, the mean when it gives numbers."""
    from pytest_genai.report.gates import GateSpec, measure

    metrics: dict[str, float] = {}
    for scorer in scorers:
        given = [f for r in records for f in r.feedback if f.name == scorer.name]
        kinds: list[Any] = []
        if any(f.passed is not None for f in given):
            kinds.append("pass_rate")
        if any(isinstance(f.value, (int, float)) and not isinstance(f.value, bool) for f in given):
            kinds.append("mean")
        for statistic in kinds:
            spec = GateSpec(scorer=scorer.name, statistic=statistic, threshold=0)
            gate = measure(records[0].suite, spec, records)
            if gate.value is not None:
                metrics[f"{scorer.name}/{statistic}"] = round(gate.value, 6)
    return metrics


def _join_report(records: list[CaseResult]) -> None:
    from pytest_genai.recording import current_recorder

    recorder = current_recorder()
    if recorder is not None:
        recorder.evaluated.extend(records)


def _check(suite: str, gates: list[Any], records: list[CaseResult]) -> None:
    __tracebackhide__ = True
    from pytest_genai.report.gates import measure

    measured = [measure(suite, g, records) for g in gates]
    missed = [g for g in measured if not g.passed]
    if missed:
        raise AssertionError(
            f"{len(missed)} of {len(measured)} thresholds missed:\n"
            + "\n".join(f"  {g.describe()}" for g in missed)
        )
