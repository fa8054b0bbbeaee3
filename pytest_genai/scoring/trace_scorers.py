"""Deterministic scorers of the test's trace: LLM calls, tokens, cost, latency, tool use.

They read the trace the plugin passes (the running test's spans) and count only the app's own
work: judge calls are never included. Without a trace (tracing off, or outside a test) they
are errors, not passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_genai.results import Feedback
from pytest_genai.scoring.base import FunctionScorer, Scorer

if TYPE_CHECKING:
    from pytest_genai.tracing.model import Trace


def _require(trace: Trace | None) -> Trace:
    if trace is None:
        raise ValueError(
            "needs the test's trace, and there is none (genai_tracing is off, spans can't be "
            "captured because the tracer provider is not the OpenTelemetry SDK's or "
            "OTEL_SDK_DISABLED is set, or this ran outside a test): pass trace= or fix that"
        )
    return trace


def _at_most(name: str, limit: float, unit: str, measure: Any) -> Scorer:
    if limit < 0:
        raise ValueError(f"{name}() needs a limit >= 0, got {limit!r}")

    def score(trace: Any) -> Feedback:
        value, detail = measure(_require(trace))
        ok = value <= limit
        return Feedback(value=value, passed=ok, rationale=f"{detail} (limit {limit:g} {unit})")

    scorer = FunctionScorer(score, name)
    scorer.pass_rule.description = f"<= {limit:g} {unit}"
    return scorer


def max_llm_calls(n: int, *, name: str = "max_llm_calls") -> Scorer:
    """Passes when the app made at most `n` LLM calls."""

    def measure(trace: Trace) -> tuple[int, str]:
        calls = trace.llm_calls
        return len(calls), f"{len(calls)} LLM call(s)"

    return _at_most(name, n, "calls", measure)


def max_tokens(n: int, *, name: str = "max_tokens") -> Scorer:
    """Passes when the app's LLM calls used at most `n` tokens (input plus output)."""

    def measure(trace: Trace) -> tuple[int, str]:
        usage = trace.usage
        return usage.total_tokens, (
            f"{usage.total_tokens} tokens ({usage.input_tokens} in, {usage.output_tokens} out)"
        )

    return _at_most(name, n, "tokens", measure)


def max_cost(usd: float, *, name: str = "max_cost") -> Scorer:
    """Passes when the app's LLM calls cost at most `usd` dollars (calls of unknown cost
    count as free: the rationale says how many there were)."""

    def measure(trace: Trace) -> tuple[float, str]:
        calls = trace.llm_calls
        unknown = sum(1 for c in calls if c.cost is None)
        note = f", {unknown} call(s) of unknown cost" if unknown else ""
        return round(trace.cost, 8), f"${trace.cost:.6f} over {len(calls)} LLM call(s){note}"

    return _at_most(name, usd, "USD", measure)


def max_latency(seconds: float, *, name: str = "max_latency") -> Scorer:
    """Passes when the app's spans took at most `seconds` from the first start to the last end."""

    def measure(trace: Trace) -> tuple[float, str]:
        return round(trace.duration, 6), f"{trace.duration:.3f} s across the trace"

    return _at_most(name, seconds, "s", measure)


def tool_called(
    tool: str,
    /,
    args: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    **arguments: Any,
) -> Scorer:
    """Passes when the app called `tool`, with at least these arguments when given (as
    keywords, or as `args={...}` for arguments named `args` or `name`)."""
    from pytest_genai.tracing.model import arguments_match

    wanted = {**(args or {}), **arguments}

    def score(trace: Any) -> Feedback:
        calls = _require(trace).tool_calls
        for call in calls:
            args = call.arguments if isinstance(call.arguments, dict) else {}
            if call.name == tool and arguments_match(args, wanted):
                return Feedback(value=True, rationale=f"{tool} was called with {args!r:.200}")
        made = ", ".join(c.name for c in calls) or "none"
        return Feedback(value=False, rationale=f"{tool} was not called (tool calls: {made})")

    return FunctionScorer(score, name or f"tool_called_{tool}")
