"""`{{ variable }}` templates, as MLflow's prompt registry writes them: parsing and rendering.

A template is split once into literal text and variable references; rendering joins the parts.
Single braces are literal text (prompts often hold JSON examples), and so is a `}}` with no
`{{` before it; a `{{` that is never closed, or that holds something other than a (dotted)
variable name, is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_OPEN = "{{"
_CLOSE = "}}"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")


class TemplateError(ValueError):
    """A template that can't be parsed; `line` is 1-based within the template text, and
    `opener` counts the `{{` before the one at fault (to find it in a YAML file's raw text)."""

    def __init__(self, problem: str, line: int, opener: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.opener = opener


class Template:
    """A parsed template: `parts` alternates literal text (even indexes) and variable names."""

    __slots__ = ("parts", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts = _split(text)
        names = self.parts[1::2]
        self.variables: tuple[str, ...] = tuple(dict.fromkeys(names))

    def render(self, values: Mapping[str, Any]) -> str:
        """Join the parts, each variable replaced by `str()` of its value in `values` (which
        must hold every variable; `resolve` makes such a mapping)."""
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        out = list(parts)
        for i in range(1, len(parts), 2):
            out[i] = values[parts[i]]
        return "".join(out)


def _split(text: str) -> list[str]:
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find(_OPEN, pos)
        if start < 0:
            parts.append(text[pos:])
            return parts
        end = text.find(_CLOSE, start + 2)
        if end < 0:
            raise _error(text, start, "'{{' is never closed by '}}'")
        inner = text[start + 2 : end]
        if _OPEN in inner:
            raise _error(text, start, "'{{' is opened again before '}}' closes it")
        name = inner.strip()
        if not NAME.fullmatch(name):
            shown = inner if len(inner) <= 40 else inner[:40] + "…"
            raise _error(
                text,
                start,
                f"'{{{{{shown}}}}}' is not a variable: write '{{{{ name }}}}' or "
                "'{{ name.field }}' (letters, digits, '_', '-', dotted)",
            )
        parts.append(text[pos:start])
        parts.append(name)
        pos = end + 2


def _error(text: str, start: int, problem: str) -> TemplateError:
    return TemplateError(problem, text.count("\n", 0, start) + 1, text.count(_OPEN, 0, start))


_MISSING: Any = object()


def lookup(values: Mapping[str, Any], name: str) -> Any:
    """The value of `name` in `values`: the key itself, else a dotted path through mappings,
    attributes and list indexes (`user.name`, `items.0`); `_MISSING` when there is none."""
    if name in values:
        return values[name]
    head, dot, rest = name.partition(".")
    if not dot or head not in values:
        return _MISSING
    value = values[head]
    for step in rest.split("."):
        if isinstance(value, Mapping):
            value = value.get(step, _MISSING)
        elif isinstance(value, (list, tuple)) and step.isdigit():
            index = int(step)
            value = value[index] if index < len(value) else _MISSING
        else:
            value = getattr(value, step, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def resolve(
    variables: tuple[str, ...], values: Mapping[str, Any]
) -> tuple[dict[str, str], list[str], list[str]]:
    """Each variable's text, the variables with no value, and the given names no variable
    uses (a name used as the head of a dotted variable counts as used)."""
    texts: dict[str, str] = {}
    missing: list[str] = []
    for name in variables:
        value = lookup(values, name)
        if value is _MISSING:
            missing.append(name)
        else:
            texts[name] = value if isinstance(value, str) else str(value)
    unexpected: list[str] = []
    if len(values) > len(variables) or any(name not in texts for name in values):
        heads = {name.partition(".")[0] for name in variables}
        unexpected = [k for k in values if k not in texts and k not in heads]
    return texts, missing, unexpected
