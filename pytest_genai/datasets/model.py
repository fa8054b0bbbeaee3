"""`Case`: one row of an evaluation dataset, in MLflow's evaluation shape."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

RESERVED_EXPECTATIONS = (
    "expected_response",
    "expected_facts",
    "guidelines",
    "expected_retrieved_context",
    "expected_tool_calls",
)
"""Expectation keys MLflow gives a meaning (others are free for custom scorers)."""

ROW_FIELDS = ("id", "inputs", "expectations", "tags", "metadata")


class Case(BaseModel):
    """One evaluation case: what goes in, what is expected, and how to find it again.

    `inputs`, `expectations`, `tags` and `metadata` are MLflow's evaluation-row fields; `id`
    names the case in test ids and reports; `repeat` counts repeated runs of the same case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    inputs: dict[str, Any]
    expectations: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] | dict[str, Any] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    repeat: int = 0

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("tags must be a list of names or a mapping, not a string")
        return value

    @field_validator("expectations")
    @classmethod
    def _reserved_shapes(cls, value: dict[str, Any]) -> dict[str, Any]:
        facts = value.get("expected_facts")
        if facts is not None and not (
            isinstance(facts, list) and all(isinstance(f, str) for f in facts)
        ):
            raise ValueError("expectations.expected_facts must be a list of strings")
        guidelines = value.get("guidelines")
        if guidelines is not None and not (
            isinstance(guidelines, str)
            or (isinstance(guidelines, list) and all(isinstance(g, str) for g in guidelines))
        ):
            raise ValueError("expectations.guidelines must be a string or a list of strings")
        calls = value.get("expected_tool_calls")
        if calls is not None and not (
            isinstance(calls, list) and all(isinstance(c, dict) and "name" in c for c in calls)
        ):
            raise ValueError(
                'expectations.expected_tool_calls must be a list of {"name": ..., '
                '"arguments": {...}} objects'
            )
        return value

    @property
    def tag_names(self) -> list[str]:
        """The tags as names: a list as it is, a mapping's keys."""
        return list(self.tags)


def content_id(row: dict[str, Any]) -> str:
    """A stable id for a row without one: a digest of its inputs and expectations."""
    content = {"inputs": row.get("inputs"), "expectations": row.get("expectations") or {}}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return "case-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
