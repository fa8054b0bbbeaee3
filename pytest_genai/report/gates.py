"""Quality gates: a suite's minimum pass rate (or mean) per scorer, decided over all its cases.

A gated suite's cases do not fail on their scores; once every case has reported (on the
controller, so xdist makes no difference) each gate is measured over the suite's cases. A case
that errored, whose app raised, or that has no verdict of the scorer counts against the gate
(as a failed verdict, or as 0 for a mean), never for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from pytest_genai.report.aggregate import wilson_interval
from pytest_genai.results import CaseResult

Statistic = Literal["pass_rate", "mean"]
GATE_PREFIX = "genai-gate:"


class GateSpec(BaseModel):
    """One threshold of a marker: the scorer, the statistic and its minimum."""

    scorer: str
    statistic: Statistic = "pass_rate"
    threshold: float

    @property
    def label(self) -> str:
        """How the gate is named in test ids: `correctness>=0.90`, `similarity:mean>=0.80`."""
        kind = "" if self.statistic == "pass_rate" else ":mean"
        return f"{self.scorer}{kind}>={self.threshold:.2f}"


class Gate(GateSpec):
    """A gate as measured over its suite's cases."""

    suite: str
    cases: int
    value: float | None
    low: float | None = None
    high: float | None = None
    passed: bool

    @property
    def nodeid(self) -> str:
        return f"{self.suite}[{GATE_PREFIX}{self.label}]"

    def describe(self) -> str:
        """`correctness pass rate 66.7% (95% CI 20.8%-93.9%) over 3 cases, needs >= 90.0%`"""
        if self.value is None:
            return f"{self.scorer}: no cases were run, needs {self._show(self.threshold)}"
        name = "pass rate" if self.statistic == "pass_rate" else "mean"
        interval = ""
        if self.low is not None and self.high is not None:
            interval = f" (95% CI {self._show(self.low)}-{self._show(self.high)})"
        return (
            f"{self.scorer} {name} {self._show(self.value)}{interval} over {self.cases} cases, "
            f"needs >= {self._show(self.threshold)}"
        )

    def _show(self, number: float) -> str:
        return f"{number:.1%}" if self.statistic == "pass_rate" else f"{number:.3g}"


def parse_thresholds(raw: Any) -> list[GateSpec]:
    """A marker's `thresholds`: `{"scorer": 0.9}` (minimum pass rate, 0 to 1) or
    `{"scorer": {"mean": 0.8}}` / `{"scorer": {"pass_rate": 0.9}}`. Raises ValueError."""
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(
            'thresholds= takes a mapping of scorer names to minimums, e.g. {"correctness": 0.9}'
        )
    specs = []
    for scorer, value in raw.items():
        statistic: Statistic = "pass_rate"
        if isinstance(value, Mapping):
            if len(value) != 1 or next(iter(value)) not in ("pass_rate", "mean"):
                raise ValueError(
                    f"thresholds[{scorer!r}]: use a number, {{'pass_rate': x}} or {{'mean': x}}"
                )
            statistic, value = next(iter(value.items()))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"thresholds[{scorer!r}]: expected a number, got {value!r}")
        if statistic == "pass_rate" and not 0 <= value <= 1:
            raise ValueError(f"thresholds[{scorer!r}]: a pass rate is between 0 and 1")
        specs.append(GateSpec(scorer=str(scorer), statistic=statistic, threshold=float(value)))
    return specs


def measure(suite: str, spec: GateSpec, cases: Iterable[CaseResult]) -> Gate:
    """The gate over the suite's cases."""
    cases = [c for c in cases if c.suite == suite and c.outcome != "skipped"]
    n = len(cases)
    if n == 0:
        return Gate(**spec.model_dump(), suite=suite, cases=0, value=None, passed=False)
    if spec.statistic == "pass_rate":
        passed = sum(1 for c in cases if _verdict(c, spec.scorer) is True)
        value = passed / n
        low, high = wilson_interval(passed, n)
    else:
        numbers = [_number(c, spec.scorer) for c in cases]
        value = sum(numbers) / n
        spread = math.sqrt(sum((x - value) ** 2 for x in numbers) / (n - 1)) if n > 1 else 0.0
        margin = 1.959963984540054 * spread / math.sqrt(n)
        low, high = value - margin, value + margin
    return Gate(
        **spec.model_dump(),
        suite=suite,
        cases=n,
        value=value,
        low=low,
        high=high,
        passed=value >= spec.threshold,
    )


def _feedback(case: CaseResult, scorer: str) -> Any:
    if case.outcome == "error":
        return None  # the app or a scorer could not run: against the gate
    return next((f for f in case.feedback if f.name == scorer and f.error is None), None)


def _verdict(case: CaseResult, scorer: str) -> bool | None:
    feedback = _feedback(case, scorer)
    return feedback.passed if feedback is not None else None


def _number(case: CaseResult, scorer: str) -> float:
    feedback = _feedback(case, scorer)
    value = feedback.value if feedback is not None else None
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else 0.0
