"""Span attribute names and span types: OpenTelemetry GenAI, MLflow and OpenInference.

Our own string constants: the OTel Python constants for the GenAI conventions are marked
deprecated and move between releases. Readers accept the older names other instrumentations
still write (`gen_ai.usage.prompt_tokens`, OpenInference's `llm.token_count.*`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class SpanType:
    """MLflow's span types (`mlflow.entities.SpanType`), as plain strings."""

    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    CHAIN = "CHAIN"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    PARSER = "PARSER"
    UNKNOWN = "UNKNOWN"
    EVALUATOR = "EVALUATOR"


SPAN_TYPES = frozenset(v for k, v in vars(SpanType).items() if k.isupper())

# OpenTelemetry GenAI semantic conventions
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
ERROR_TYPE = "error.type"

# MLflow
MLFLOW_SPAN_TYPE = "mlflow.spanType"
MLFLOW_SPAN_INPUTS = "mlflow.spanInputs"
MLFLOW_SPAN_OUTPUTS = "mlflow.spanOutputs"
MLFLOW_CHAT_TOKEN_USAGE = "mlflow.chat.tokenUsage"

# OpenInference (Phoenix)
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
OUTPUT_VALUE = "output.value"

# ours
COST = "pytest_genai.cost"
"""The cost of an LLM call in USD, as litellm computed it."""
EVALUATOR = "pytest_genai.evaluator"
"""Marks a judge's span: never counted as the app's own LLM call."""
FIXTURE_SCOPE = "pytest_genai.fixture.scope"
"""On spans made while a fixture of a wider scope than the test was set up (its value: that
scope): work shared by many tests, kept in the tree but not counted as the test's."""
TEST_NODEID = "test.nodeid"
CASE_ID = "genai.case.id"
TEST_OUTCOME = "test.outcome"

OPENINFERENCE_KINDS = {
    SpanType.LLM: "LLM",
    SpanType.CHAT_MODEL: "LLM",
    SpanType.RETRIEVER: "RETRIEVER",
    SpanType.TOOL: "TOOL",
    SpanType.AGENT: "AGENT",
    SpanType.CHAIN: "CHAIN",
    SpanType.EMBEDDING: "EMBEDDING",
    SpanType.RERANKER: "RERANKER",
    SpanType.PARSER: "CHAIN",
    SpanType.UNKNOWN: "UNKNOWN",
    SpanType.EVALUATOR: "EVALUATOR",
}
OPERATIONS = {
    SpanType.LLM: "text_completion",
    SpanType.CHAT_MODEL: "chat",
    SpanType.TOOL: "execute_tool",
    SpanType.AGENT: "invoke_agent",
    SpanType.EMBEDDING: "embeddings",
}
"""`gen_ai.operation.name` of the span types the GenAI conventions name."""
_TYPE_OF_OPERATION = {
    "chat": SpanType.CHAT_MODEL,
    "text_completion": SpanType.LLM,
    "generate_content": SpanType.LLM,
    "execute_tool": SpanType.TOOL,
    "invoke_agent": SpanType.AGENT,
    "create_agent": SpanType.AGENT,
    "embeddings": SpanType.EMBEDDING,
}
_TYPE_OF_KIND = {
    "LLM": SpanType.LLM,
    "RETRIEVER": SpanType.RETRIEVER,
    "TOOL": SpanType.TOOL,
    "AGENT": SpanType.AGENT,
    "CHAIN": SpanType.CHAIN,
    "EMBEDDING": SpanType.EMBEDDING,
    "RERANKER": SpanType.RERANKER,
    "EVALUATOR": SpanType.EVALUATOR,
}

LLM_TYPES = frozenset({SpanType.LLM, SpanType.CHAT_MODEL})

_INPUT_TOKENS = (
    GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
_OUTPUT_TOKENS = (
    GEN_AI_USAGE_OUTPUT_TOKENS,
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
_MODEL = (GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_MODEL, "llm.model_name", "llm.request.model")
_COSTS = (COST, "gen_ai.usage.cost", "llm.cost.total", "llm.usage.cost")
_TOOL_NAMES = (GEN_AI_TOOL_NAME, "tool.name")
_INPUTS = (MLFLOW_SPAN_INPUTS, INPUT_VALUE, GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_INPUT_MESSAGES)
_OUTPUTS = (MLFLOW_SPAN_OUTPUTS, OUTPUT_VALUE, GEN_AI_TOOL_CALL_RESULT, GEN_AI_OUTPUT_MESSAGES)


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def decode(value: Any) -> Any:
    """An attribute holding JSON text, decoded; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def span_type_of(attributes: Mapping[str, Any]) -> str:
    """The MLflow span type a span's attributes declare, under any of the conventions."""
    declared = decode(attributes.get(MLFLOW_SPAN_TYPE))
    if isinstance(declared, str) and declared:
        return declared.upper()
    if attributes.get(EVALUATOR):
        return SpanType.EVALUATOR
    kind = attributes.get(OPENINFERENCE_SPAN_KIND)
    if isinstance(kind, str) and kind.upper() in _TYPE_OF_KIND:
        return _TYPE_OF_KIND[kind.upper()]
    operation = attributes.get(GEN_AI_OPERATION_NAME)
    if isinstance(operation, str) and operation in _TYPE_OF_OPERATION:
        return _TYPE_OF_OPERATION[operation]
    if attributes.get("db.system") or attributes.get("retrieval.documents.0.document.content"):
        return SpanType.RETRIEVER
    return SpanType.UNKNOWN


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _tokens(attributes: Mapping[str, Any], names: tuple[str, ...], usage_key: str) -> int | None:
    value = _int(_first(attributes, names))
    if value is None:
        usage = decode(attributes.get(MLFLOW_CHAT_TOKEN_USAGE))
        if isinstance(usage, dict):
            value = _int(usage.get(usage_key))
    return value


def input_tokens(attributes: Mapping[str, Any]) -> int | None:
    return _tokens(attributes, _INPUT_TOKENS, "input_tokens")


def output_tokens(attributes: Mapping[str, Any]) -> int | None:
    return _tokens(attributes, _OUTPUT_TOKENS, "output_tokens")


def cost(attributes: Mapping[str, Any]) -> float | None:
    value = _first(attributes, _COSTS)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def model(attributes: Mapping[str, Any]) -> str | None:
    value = _first(attributes, _MODEL)
    return str(value) if value is not None else None


def tool_name(attributes: Mapping[str, Any]) -> str | None:
    value = _first(attributes, _TOOL_NAMES)
    return str(value) if value is not None else None


def inputs(attributes: Mapping[str, Any]) -> Any:
    return decode(_first(attributes, _INPUTS))


def outputs(attributes: Mapping[str, Any]) -> Any:
    return decode(_first(attributes, _OUTPUTS))


def finish_reasons(attributes: Mapping[str, Any]) -> list[str]:
    value = attributes.get(GEN_AI_RESPONSE_FINISH_REASONS)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if value else []
