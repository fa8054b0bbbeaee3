"""`Judge`: a scorer that asks an LLM, and `make_judge` to define one from instructions."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import hashlib
import inspect
import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, create_model

from pytest_genai.config import OptionError, parse_model
from pytest_genai.errors import JudgeError
from pytest_genai.judges.client import JudgeClient, JudgeReply
from pytest_genai.results import (
    AssessmentSource,
    AssessmentSourceType,
    Feedback,
    FeedbackError,
    normalize_verdict,
    truncate_text,
)
from pytest_genai.scoring.base import Scorer
from pytest_genai.tracing import conventions as cv
from pytest_genai.tracing.autolog import SUPPRESSED

PLACEHOLDERS = ("inputs", "outputs", "expectations", "context")
"""What judge instructions may refer to, as `{{ inputs }}` and so on."""
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
RAW_REPLY_CHARS = 2000

FeedbackType = Literal["yes_no"] | type | Sequence[str]


@dataclasses.dataclass(frozen=True)
class JudgeCall:
    """Per-assertion overrides (`assert_judged(model=..., inference_params=...)`)."""

    model: str | None = None
    inference_params: dict[str, Any] | None = None


NO_OVERRIDES = JudgeCall()
CALL_OVERRIDES: contextvars.ContextVar[JudgeCall] = contextvars.ContextVar(
    "pytest_genai_judge_call",
    default=NO_OVERRIDES,
)


def placeholders(instructions: str) -> list[str]:
    """The placeholder names used in `instructions`, in order of first use."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(instructions):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def render_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def render(instructions: str, fields: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: render_value(fields.get(m.group(1))), instructions)


SYSTEM_PROMPT = """\
You are a careful, impartial evaluator of the output of an AI application. You are given \
evaluation instructions and the material to evaluate. Judge only what the instructions ask, \
using only the material given. Think it through first, then decide.

Reply with a single JSON object and nothing else, with two keys:
- "rationale": a short explanation of your decision that points to the parts of the material \
it rests on;
- "result": {result_spec}."""


class Judge(Scorer):
    """A scorer whose verdict comes from an LLM judge (through litellm).

    `instructions` may use the placeholders `{{ inputs }}`, `{{ outputs }}`,
    `{{ expectations }}` and `{{ context }}`. `feedback_type` is `"yes_no"` (the default, a
    yes/no/unknown verdict where yes passes), `bool`, `int` or `float` (a score that needs a
    `threshold` or `pass_if`), or a list of category labels (which needs `pass_if`).
    `model` and `inference_params` override the run's judge settings for this judge.
    """

    source_type = AssessmentSourceType.LLM_JUDGE

    def __init__(
        self,
        name: str,
        instructions: str,
        *,
        feedback_type: FeedbackType = "yes_no",
        threshold: float | None = None,
        pass_if: Callable[[Any], bool] | None = None,
        model: str | None = None,
        inference_params: dict[str, Any] | None = None,
        aggregations: Iterable[str] | None = None,
        requires: Callable[[dict[str, Any]], str | None] | None = None,
        context_from_trace: Callable[[Any], Any] | None = None,
    ) -> None:
        unknown = [p for p in placeholders(instructions) if p not in PLACEHOLDERS]
        if unknown:
            raise ValueError(
                f"judge {name!r}: unknown placeholder {{{{ {unknown[0]} }}}} in its instructions; "
                f"use {', '.join('{{ ' + p + ' }}' for p in PLACEHOLDERS)}"
            )
        if not placeholders(instructions):
            raise ValueError(
                f"judge {name!r}: its instructions refer to nothing to judge; use at least one "
                f"of {', '.join('{{ ' + p + ' }}' for p in PLACEHOLDERS)}"
            )
        self.instructions = instructions
        self.feedback_type = _check_feedback_type(name, feedback_type, threshold, pass_if)
        self.model = model
        self.inference_params = dict(inference_params or {})
        self._requires = requires
        self._context_from_trace = context_from_trace
        self._response_model = _response_model(self.feedback_type)
        super().__init__(name, threshold=threshold, pass_if=pass_if, aggregations=aggregations)

    def score(
        self, inputs: Any, outputs: Any, expectations: Any, context: Any, trace: Any
    ) -> Feedback:
        if context is None and trace is not None and self._context_from_trace is not None:
            context = self._context_from_trace(trace)
        fields = {
            "inputs": inputs,
            "outputs": outputs,
            "expectations": expectations,
            "context": context,
        }
        if self._requires is not None:
            problem = self._requires(fields)
            if problem:
                raise ValueError(f"judge {self.name!r} {problem}")
        call = CALL_OVERRIDES.get()
        params = {**self.inference_params, **(call.inference_params or {})}
        client, default_model = judge_client()
        model = _model(call.model or self.model or default_model)
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT.format(result_spec=self._result_spec())},
            {"role": "user", "content": render(self.instructions, fields)},
        ]
        if not _spans_wanted(client):
            reply = self._ask(client, messages, model, params)
            return self._feedback(reply.result, reply)
        with _tracer().start_as_current_span(
            f"evaluate {self.name}", attributes=_span_start(self.name, model)
        ) as span:
            reply = self._ask(client, messages, model, params)
            ended = _span_end(reply.result, reply)
            span.set_attributes(ended)
            span.add_event(
                cv.GEN_AI_EVALUATION_RESULT,
                {k: v for k, v in ended.items() if k.startswith("gen_ai.evaluation.")}
                | {cv.GEN_AI_EVALUATION_NAME: self.name},
            )
        return self._feedback(reply.result, reply)

    def _ask(
        self,
        client: JudgeClient,
        messages: list[dict[str, str]],
        model: str,
        params: dict[str, Any],
    ) -> JudgeReply:
        token = SUPPRESSED.set(True)  # the judge's own litellm calls are not the app's
        try:
            return client.ask(
                messages,
                model=model,
                response_model=self._response_model,
                inference_params=params,
                validate=self._coerce,
                identity={**self.identity(), "repeat": _repeat_index()},
            )
        finally:
            SUPPRESSED.reset(token)

    def identity(self) -> dict[str, str]:
        """What makes this judge the judge it is: its name and digests of its instructions,
        result type and pass rule (the judge cache's key and `genai.lock` use it); the same
        in every process."""
        identity = self.__dict__.get("_identity")
        if identity is None:
            identity = self.__dict__["_identity"] = {
                "judge": self.name,
                "instructions": _digest(self.instructions),
                "result": _digest(self._result_spec()),
                "pass_rule": _digest(_rule_identity(self.pass_rule)),
            }
        return dict(identity)

    def _feedback(self, value: Any, reply: JudgeReply) -> Feedback:
        metadata: dict[str, Any] = {"judge_model": reply.model, "requests": reply.attempts}
        if reply.cached:
            metadata["cached"] = True
            if reply.saved.cost is not None:
                metadata["cost_saved"] = reply.saved.cost
        return Feedback(
            name=self.name,
            value=value,
            rationale=reply.rationale or None,
            source=AssessmentSource(source_type=self.source_type, source_id=reply.model),
            cost=reply.cost,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            metadata=metadata,
        )

    def error_feedback(self, exc: BaseException) -> Feedback:
        """A judge error keeps the judge model and, when there was one, the raw reply."""
        model = CALL_OVERRIDES.get().model or self.model or _default_model()
        metadata: dict[str, Any] = {"judge_model": model}
        raw = getattr(exc, "raw_reply", None)
        if raw:
            metadata["raw_reply"] = truncate_text(raw, RAW_REPLY_CHARS)
        if isinstance(exc, JudgeError):
            metadata["requests"] = exc.attempts
        usage = getattr(exc, "usage", None)
        return Feedback(
            name=self.name,
            error=FeedbackError.from_exception(exc),
            source=AssessmentSource(source_type=self.source_type, source_id=model),
            aggregations=self.aggregations,
            metadata=metadata,
            input_tokens=getattr(usage, "input_tokens", None),
            output_tokens=getattr(usage, "output_tokens", None),
            cost=getattr(usage, "cost", None),
        )

    def _result_spec(self) -> str:
        kind = self.feedback_type
        if kind == "yes_no":
            return '"yes" if the output meets the criteria, "no" if it does not'
        if kind is bool:
            return "true or false"
        if kind is int:
            return "a whole number, as the instructions ask"
        if kind is float:
            return "a number, as the instructions ask"
        return "one of " + ", ".join(json.dumps(c) for c in kind)  # type: ignore[union-attr]

    def _coerce(self, result: Any) -> bool | int | float | str:
        kind = self.feedback_type
        if kind == "yes_no":
            verdict = normalize_verdict(str(result)) if not isinstance(result, bool) else None
            if isinstance(result, bool):
                verdict = "yes" if result else "no"
            if verdict is None:
                raise ValueError("not a yes/no verdict")
            return verdict
        if kind is bool:
            if isinstance(result, bool):
                return result
            verdict = normalize_verdict(str(result))
            if verdict in ("yes", "no"):
                return verdict == "yes"
            raise ValueError("not true or false")
        if kind in (int, float):
            try:
                number = float(str(result).strip().split("/")[0])
            except ValueError:
                raise ValueError("not a number") from None
            if not math.isfinite(number):
                raise ValueError("not a finite number")
            if kind is int:
                if number != int(number):
                    raise ValueError("not a whole number")
                return int(number)
            return number
        labels = {c.lower(): c for c in kind}  # type: ignore[union-attr]
        label = labels.get(str(result).strip().lower())
        if label is None:
            raise ValueError(f"not one of {list(kind)!r}")  # type: ignore[arg-type]
        return label


EVALUATOR_SPAN_ATTRIBUTES = {
    "mlflow.spanType": "EVALUATOR",
    "openinference.span.kind": "EVALUATOR",
    "pytest_genai.evaluator": True,
}
"""Marks a judge's span, so that trace queries never count it as the app's own LLM call."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _rule_identity(rule: Any) -> str:
    """A pass rule as text that is the same in every process and Python version, and changes
    when the rule does: a `pass_if` function by its name, its source and the plain values its
    closure and defaults hold (other values by their type)."""
    check = getattr(rule, "_check", None)
    if check is None:
        return f"threshold={getattr(rule, 'threshold', None)!r}"
    name = f"{getattr(check, '__module__', '')}.{getattr(check, '__qualname__', '')}"
    try:
        source = textwrap.dedent(inspect.getsource(check))
    except (OSError, TypeError):  # made by exec, a builtin, a callable object
        source = type(check).__qualname__
    cells = []
    for cell in getattr(check, "__closure__", None) or ():
        try:
            cells.append(_plain(cell.cell_contents))
        except ValueError:  # an empty cell
            cells.append("<empty>")
    defaults = [_plain(v) for v in getattr(check, "__defaults__", None) or ()]
    code = getattr(check, "__code__", None)  # two lambdas on one line share their source
    constants = [_plain(c) for c in getattr(code, "co_consts", ())]
    names = list(getattr(code, "co_names", ()))
    body = source + repr((constants, names, cells, defaults))
    return f"pass_if={name}:{_digest(body)}"


def _plain(value: Any, depth: int = 0) -> str:
    """`value` as stable text when it is plain data (sets sorted); else its type's name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if depth < 3 and isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_plain(v, depth + 1) for v in value)) + "}"
    if depth < 3 and isinstance(value, (list, tuple)):
        return "[" + ",".join(_plain(v, depth + 1) for v in value) + "]"
    if depth < 3 and isinstance(value, dict):
        items = sorted(f"{_plain(k, depth + 1)}:{_plain(v, depth + 1)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    return f"<{type(value).__qualname__}>"


CASE_REPEAT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "genai_case_repeat", default=None
)
"""The run number of the case a deferred judge call belongs to (its test is over by then)."""


def _repeat_index() -> int:
    """The run number of the repeated dataset case being judged (0 for other tests), so each
    run of a case gets its own cached verdict."""
    from pytest_genai.current import current_item

    deferred = CASE_REPEAT.get()
    if deferred is not None:
        return deferred
    item = current_item()
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    return int(getattr(case, "repeat", 0) or 0)


_judge_tracer: tuple[Any, Any] | None = None


def _spans_wanted(client: JudgeClient) -> bool:
    """A judge's span is made when OpenTelemetry is in use (the app, a `genai_trace` or an
    exporter loaded it) or traces are exported; a run that never touches it doesn't import it
    for the judges alone."""
    return "opentelemetry.trace" in sys.modules or client.settings.traces is not None


def _tracer() -> Any:
    """The judges' tracer, from the current global provider (made again if it is swapped)."""
    global _judge_tracer
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    cached = _judge_tracer
    if cached is None or cached[0] is not provider:
        cached = _judge_tracer = (provider, provider.get_tracer("pytest_genai.judges"))
    return cached[1]


def _span_start(name: str, model: str) -> dict[str, Any]:
    return {
        **EVALUATOR_SPAN_ATTRIBUTES,
        "gen_ai.evaluation.name": name,
        "gen_ai.request.model": model,
    }


def _span_end(value: Any, reply: JudgeReply) -> dict[str, Any]:
    from pytest_genai.secrets import redact
    from pytest_genai.tracing.api import capture_content

    attributes: dict[str, Any] = {"pytest_genai.judge.requests": reply.attempts}
    if capture_content():  # a rationale may quote the judged output
        explanation = redact(truncate_text(reply.rationale, 1000))
        attributes["gen_ai.evaluation.explanation"] = explanation
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        attributes["gen_ai.evaluation.score.value"] = value
    else:
        attributes["gen_ai.evaluation.score.label"] = str(value).lower()
    if reply.input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = reply.input_tokens
    if reply.output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = reply.output_tokens
    return attributes


def _check_feedback_type(
    name: str, kind: Any, threshold: float | None, pass_if: Callable[[Any], bool] | None
) -> Any:
    if kind == "yes_no" or kind is bool:
        return kind
    if kind in (int, float):
        if threshold is None and pass_if is None:
            raise TypeError(f"judge {name!r}: a numeric judge needs threshold= or pass_if=")
        return kind
    if isinstance(kind, (list, tuple)) and kind and all(isinstance(c, str) for c in kind):
        if pass_if is None:
            raise TypeError(f"judge {name!r}: a categorical judge needs pass_if= (label -> bool)")
        return tuple(kind)
    raise TypeError(
        f"judge {name!r}: feedback_type must be 'yes_no', bool, int, float or a list of "
        f"labels, got {kind!r}"
    )


def _response_model(kind: Any) -> type[BaseModel]:
    result_type: Any
    if kind == "yes_no":
        result_type = Literal["yes", "no", "unknown"]
    elif kind in (bool, int, float):
        result_type = kind
    else:
        result_type = Literal[tuple(kind)]  # type: ignore[valid-type]
    # rationale first: the model explains before it decides
    return create_model("JudgeVerdict", rationale=(str, ...), result=(result_type, ...))


def _model(text: str) -> str:
    try:
        return parse_model(text)
    except OptionError as exc:
        raise JudgeError(f"bad judge model: {exc}") from None


def _default_model() -> str:
    return judge_client()[1]


BOUND_CLIENT: contextvars.ContextVar[JudgeClient | None] = contextvars.ContextVar(
    "genai_judge_client", default=None
)
"""The client of the run a deferred judge call belongs to (its test is over by then)."""


def judge_client() -> tuple[JudgeClient, str]:
    """The client of the running pytest session (or one from the environment), and its model."""
    from pytest_genai.current import current_item

    bound = BOUND_CLIENT.get()
    if bound is not None:
        return bound, bound.settings.judge_model
    from pytest_genai.session import get_session

    item = current_item()
    session = get_session(item.config) if item is not None else None
    client = session.judge_client() if session is not None else _fallback_client()
    return client, client.settings.judge_model


@functools.cache
def _fallback_client() -> JudgeClient:
    """Outside a pytest run (a script, a notebook): settings from the environment. The judge
    cache is used there only when `GENAI_CACHE` asks for it (then in `GENAI_CACHE_DIR`, or
    `.genai_cache/` in the working directory)."""
    from pathlib import Path

    from pytest_genai.config import Settings
    from pytest_genai.judging import CACHE_FILE

    settings = Settings.resolve({}, os.environ, {})
    store = None
    if os.environ.get("GENAI_CACHE") and settings.cache != "off":
        from pytest_genai.cache import JudgeStore

        store = JudgeStore((settings.cache_dir or Path(".genai_cache")) / CACHE_FILE)
    return JudgeClient(settings, store=store)


def unavailable_reason(model: str | None = None) -> str | None:
    """Why no judge can be asked in this run (for `pytest.skip`), or None when one can.

    Checks the model string, the provider's credentials and, with `genai_judge_base_url`, that
    the server answers; asks the model nothing. With `--genai-cache=replay` no model is asked
    at all, so none needs to be reachable: None.
    """
    client, default_model = judge_client()
    try:
        chosen = _model(model or default_model)
    except JudgeError as exc:
        return str(exc)
    if client.settings.cache == "replay":
        return None
    return client.unavailable_reason(chosen)


def make_judge(
    name: str,
    instructions: str,
    *,
    feedback_type: FeedbackType = "yes_no",
    threshold: float | None = None,
    pass_if: Callable[[Any], bool] | None = None,
    model: str | None = None,
    inference_params: dict[str, Any] | None = None,
    aggregations: Iterable[str] | None = None,
) -> Judge:
    """Define an LLM judge from instructions with `{{ inputs }}`, `{{ outputs }}`,
    `{{ expectations }}` and `{{ context }}` placeholders.

    An unknown placeholder, or a numeric or categorical judge without a pass rule, is an error
    here, when the judge is defined. See `Judge` for the arguments.
    """
    return Judge(
        name,
        instructions,
        feedback_type=feedback_type,
        threshold=threshold,
        pass_if=pass_if,
        model=model,
        inference_params=inference_params,
        aggregations=aggregations,
    )
