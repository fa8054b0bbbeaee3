"""The span tree as compact text: for failure messages and the failed test's trace section."""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_genai.tracing.model import Span

MARK = "▶ "


def describe(span: Span) -> str:
    """One line: name, type, duration, model, tokens, cost, error."""
    parts = [span.name, span.span_type, _duration(span.duration)]
    model = span.model
    if model and model not in span.name:
        parts.append(model)
    tokens_in, tokens_out = span.input_tokens, span.output_tokens
    if tokens_in is not None or tokens_out is not None:
        parts.append(f"tokens {tokens_in or 0}→{tokens_out or 0}")
    cost = span.cost
    if cost:
        parts.append(f"${cost:.6f}".rstrip("0").rstrip("."))
    scope = span.attributes.get("pytest_genai.fixture.scope")
    if scope:
        parts.append(f"({scope} fixture)")
    error = span.error
    if error is not None:
        parts.append(f"ERROR {error.splitlines()[0][:200]}")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def render_tree(roots: Sequence[Span], marked: Set[str] = frozenset(), max_lines: int = 60) -> str:
    """The tree under `roots`, one span per line; spans whose span id is in `marked` are
    pointed at. Past `max_lines`, the rest is counted."""
    lines: list[str] = []
    total = 0

    def walk(span: Span, prefix: str, last: bool, top: bool) -> None:
        nonlocal total
        total += 1
        if len(lines) < max_lines:
            branch = "" if top else ("└─ " if last else "├─ ")
            mark = MARK if span.span_id in marked else "  "
            lines.append(f"{mark}{prefix}{branch}{describe(span)}")
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for i, child in enumerate(span.children):
            walk(child, child_prefix, i == len(span.children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    if total > len(lines):
        lines.append(f"  … {total - len(lines)} more spans")
    return "\n".join(lines)
