"""pytest-genai: test and evaluate LLM applications under plain pytest.

The public API is imported on first use (PEP 562), so that loading the plugin in a suite that
never scores anything costs nothing: `import pytest_genai` imports no pydantic, litellm or OTel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "assert_scored": "pytest_genai.scoring.assertions",
    "assert_judged": "pytest_genai.judges.assertions",
    "make_judge": "pytest_genai.judges.base",
    "JudgeError": "pytest_genai.errors",
    "scorer": "pytest_genai.scoring.base",
    "Scorer": "pytest_genai.scoring.base",
    "Feedback": "pytest_genai.results",
    "CaseResult": "pytest_genai.results",
    "AssessmentSource": "pytest_genai.results",
    "AssessmentSourceType": "pytest_genai.results",
    "ScoresFailed": "pytest_genai.errors",
    "ScorerError": "pytest_genai.errors",
    "CaseRecorder": "pytest_genai.recording",
    "Settings": "pytest_genai.config",
    "load_dataset": "pytest_genai.datasets.formats",
    "evaluate": "pytest_genai.datasets.evaluate",
    "EvaluationResult": "pytest_genai.datasets.evaluate",
    "Case": "pytest_genai.datasets.model",
    "DatasetError": "pytest_genai.errors",
    "PromptError": "pytest_genai.errors",
    "load_prompt": "pytest_genai.prompts.store",
    "Prompt": "pytest_genai.prompts.model",
    "PromptFormatError": "pytest_genai.prompts.model",
    "PromptUse": "pytest_genai.results",
    "Comparison": "pytest_genai.prompts.snapshots",
    "trace": "pytest_genai.tracing.api",
    "start_span": "pytest_genai.tracing.api",
    "LiveSpan": "pytest_genai.tracing.api",
    "SpanType": "pytest_genai.tracing.conventions",
    "Trace": "pytest_genai.tracing.model",
    "Span": "pytest_genai.tracing.model",
    "ToolCall": "pytest_genai.tracing.model",
}
_MODULES = {"scorers": "pytest_genai.scorers", "judges": "pytest_genai.judges"}

__all__ = [
    "AssessmentSource",
    "AssessmentSourceType",
    "Case",
    "CaseRecorder",
    "CaseResult",
    "Comparison",
    "DatasetError",
    "EvaluationResult",
    "Feedback",
    "JudgeError",
    "LiveSpan",
    "Prompt",
    "PromptError",
    "PromptFormatError",
    "PromptUse",
    "Scorer",
    "ScorerError",
    "ScoresFailed",
    "Settings",
    "Span",
    "SpanType",
    "ToolCall",
    "Trace",
    "__version__",
    "assert_judged",
    "assert_scored",
    "evaluate",
    "judges",
    "load_dataset",
    "load_prompt",
    "make_judge",
    "scorer",
    "scorers",
    "start_span",
    "trace",
]

if TYPE_CHECKING:
    from pytest_genai import judges, scorers
    from pytest_genai.config import Settings
    from pytest_genai.datasets.evaluate import EvaluationResult, evaluate
    from pytest_genai.datasets.formats import load_dataset
    from pytest_genai.datasets.model import Case
    from pytest_genai.errors import (
        DatasetError,
        JudgeError,
        PromptError,
        ScorerError,
        ScoresFailed,
    )
    from pytest_genai.judges.assertions import assert_judged
    from pytest_genai.judges.base import make_judge
    from pytest_genai.prompts.model import Prompt, PromptFormatError
    from pytest_genai.prompts.snapshots import Comparison
    from pytest_genai.prompts.store import load_prompt
    from pytest_genai.recording import CaseRecorder
    from pytest_genai.results import (
        AssessmentSource,
        AssessmentSourceType,
        CaseResult,
        Feedback,
        PromptUse,
    )
    from pytest_genai.scoring.assertions import assert_scored
    from pytest_genai.scoring.base import Scorer, scorer
    from pytest_genai.tracing.api import LiveSpan, start_span, trace
    from pytest_genai.tracing.conventions import SpanType
    from pytest_genai.tracing.model import Span, ToolCall, Trace


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_genai' has no attribute {name!r}")
    # Not cached in globals(): the module's own attribute stays the one source of truth.
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
