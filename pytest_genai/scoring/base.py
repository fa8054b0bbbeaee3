"""`Scorer`, the `@scorer` decorator, argument binding and return normalisation."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    Feedback,
    FeedbackError,
    PassRule,
    normalize_verdict,
)

SCORER_ARGUMENTS = ("inputs", "outputs", "expectations", "trace", "context")
"""The names a scorer's parameters may have; each receives the matching value."""

AGGREGATIONS = ("mean", "min", "max", "median", "p90", "variance")
"""Statistics a scorer may ask the report to show for its numeric values (as MLflow's)."""

F = TypeVar("F", bound=Callable[..., Any])


def _binding(func: Callable[..., Any], owner: str) -> tuple[tuple[str, ...], bool]:
    """Which scorer arguments `func` takes by name, and whether it takes `**kwargs`."""
    if inspect.iscoroutinefunction(func):
        raise TypeError(f"scorer {owner!r}: async scorers are not supported; make it a def")
    wanted: list[str] = []
    takes_all = False
    for param in inspect.signature(func).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            takes_all = True
        elif param.kind is param.VAR_POSITIONAL:
            continue
        elif param.name in SCORER_ARGUMENTS and param.kind is not param.POSITIONAL_ONLY:
            wanted.append(param.name)
        elif param.default is param.empty:
            raise TypeError(
                f"scorer {owner!r}: parameter {param.name!r} is not one of "
                f"{', '.join(SCORER_ARGUMENTS)}; rename it or give it a default"
            )
    return tuple(wanted), takes_all


class Scorer:
    """Something that turns one case into verdicts.

    Subclass it and implement `score()`, naming the arguments you need among `inputs`,
    `outputs`, `expectations`, `trace` and `context`; return a bool, a number, a verdict string
    (`"yes"`/`"no"`), a `Feedback` or a list of them. Or decorate a function with `@scorer`.

    `threshold` makes numbers pass at or above it; `pass_if` is any `value -> bool`;
    `aggregations` chooses the statistics the report shows (default: mean and min).
    """

    name: str = ""
    source_type: AssessmentSourceType = AssessmentSourceType.CODE

    def __init__(
        self,
        name: str | None = None,
        *,
        threshold: float | None = None,
        pass_if: Callable[[Any], bool] | None = None,
        aggregations: Iterable[str] | None = None,
    ) -> None:
        self.name = name or self.name or type(self).__name__
        self.pass_rule = PassRule(threshold=threshold, check=pass_if)
        self.aggregations: list[str] | None = None
        if aggregations is not None:
            self.aggregations = list(aggregations)
            unknown = [a for a in self.aggregations if a not in AGGREGATIONS]
            if unknown:
                raise ValueError(
                    f"scorer {self.name!r}: unknown aggregation {unknown[0]!r}; "
                    f"choose from {', '.join(AGGREGATIONS)}"
                )
        self._wanted, self._takes_all = self._bind()

    def _bind(self) -> tuple[tuple[str, ...], bool]:
        return _binding(self.score, self.name)

    def score(self, **kwargs: Any) -> Any:
        """Produce the verdict; see the class docstring for what it may take and return."""
        raise NotImplementedError(f"{type(self).__name__} must implement score()")

    def __call__(self, **kwargs: Any) -> Any:
        """Call `score()` with the arguments it names, picked from `kwargs`."""
        return self.score(**self._select(kwargs))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def wants_trace(self) -> bool:
        """Whether the scorer reads the test's trace."""
        return self._takes_all or "trace" in self._wanted

    def _select(self, available: dict[str, Any]) -> dict[str, Any]:
        if self._takes_all:
            return dict(available)
        return {name: available.get(name) for name in self._wanted}

    def run(
        self,
        *,
        inputs: Any = None,
        outputs: Any = None,
        expectations: Any = None,
        trace: Any = None,
        context: Any = None,
    ) -> list[Feedback]:
        """Score one case. Never raises for a scorer's own failure: that is an error `Feedback`."""
        arguments = {
            "inputs": inputs,
            "outputs": outputs,
            "expectations": expectations,
            "trace": trace,
            "context": context,
        }
        started = time.perf_counter()
        try:
            raw = self.score(**self._select(arguments))
            return self.normalize(raw, duration=time.perf_counter() - started)
        except Exception as exc:
            error = self.error_feedback(exc)
            error.duration = time.perf_counter() - started  # our own new object
            return [error]

    def error_feedback(self, exc: BaseException) -> Feedback:
        return Feedback(
            name=self.name,
            error=FeedbackError.from_exception(exc),
            source=self._source(),
            aggregations=self.aggregations,
        )

    def _source(self) -> AssessmentSource:
        return AssessmentSource(source_type=self.source_type, source_id=self.name)

    def normalize(self, raw: Any, duration: float | None = None) -> list[Feedback]:
        """Turn whatever `score()` returned into a list of `Feedback` with the pass rule applied."""
        if isinstance(raw, Feedback):
            return [self._complete(raw, duration)]
        if isinstance(raw, (list, tuple)) and raw and all(isinstance(f, Feedback) for f in raw):
            return [self._complete(f, duration) for f in raw]
        return [self._complete(Feedback(name=self.name, value=self._value(raw)), duration)]

    def _value(self, raw: Any) -> bool | int | float | str:
        if isinstance(raw, (bool, int)):
            return raw
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise ValueError(f"scorer returned {raw!r}, which is not a usable score")
            return raw
        if isinstance(raw, str):
            return normalize_verdict(raw) or raw
        raise TypeError(
            f"scorer returned {type(raw).__name__} {raw!r:.80}; return a bool, a number, "
            "a verdict string, a Feedback or a list of Feedback"
        )

    def _complete(self, feedback: Feedback, duration: float | None = None) -> Feedback:
        """The feedback with what the scorer knows filled in (a copy: a scorer may return the
        same `Feedback` object every time)."""
        updates: dict[str, Any] = {}
        if feedback.duration is None and duration is not None:
            updates["duration"] = duration
        if not feedback.name:
            updates["name"] = self.name
        if feedback.source.source_id is None:
            updates["source"] = AssessmentSource(
                source_type=feedback.source.source_type, source_id=self.name
            )
        if feedback.aggregations is None and self.aggregations is not None:
            updates["aggregations"] = self.aggregations
        if feedback.error is None:
            if isinstance(feedback.value, float) and not math.isfinite(feedback.value):
                raise ValueError(f"scorer returned {feedback.value!r}, not a usable score")
            if feedback.passed is None:
                updates["passed"] = self.pass_rule(feedback.value)
            if feedback.pass_rule is None:
                updates["pass_rule"] = self.pass_rule.describe(feedback.value)
        return feedback.model_copy(update=updates) if updates else feedback


class FunctionScorer(Scorer):
    """A `Scorer` made from a function by `@scorer`."""

    def __init__(self, func: Callable[..., Any], name: str | None = None, **options: Any) -> None:
        self.func = func
        self.__doc__ = func.__doc__
        self.__wrapped__ = func
        super().__init__(name or getattr(func, "__name__", None) or "scorer", **options)

    def _bind(self) -> tuple[tuple[str, ...], bool]:
        return _binding(self.func, self.name)

    def score(self, **kwargs: Any) -> Any:
        return self.func(**kwargs)


@overload
def scorer(func: F, /) -> FunctionScorer: ...


@overload
def scorer(
    func: None = None,
    /,
    *,
    name: str | None = None,
    threshold: float | None = None,
    pass_if: Callable[[Any], bool] | None = None,
    aggregations: Iterable[str] | None = None,
) -> Callable[[F], FunctionScorer]: ...


def scorer(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    threshold: float | None = None,
    pass_if: Callable[[Any], bool] | None = None,
    aggregations: Iterable[str] | None = None,
) -> FunctionScorer | Callable[[Callable[..., Any]], FunctionScorer]:
    """Make a scorer from a function, bare (`@scorer`) or with options (`@scorer(threshold=0.8)`).

    The function's parameters are bound by name: `inputs`, `outputs`, `expectations`, `trace`,
    `context`. See `Scorer` for what it may return and what the options mean.
    """
    options = {"threshold": threshold, "pass_if": pass_if, "aggregations": aggregations}

    def wrap(f: Callable[..., Any]) -> FunctionScorer:
        return FunctionScorer(f, name, **options)

    if func is not None:
        return wrap(func)
    return wrap
