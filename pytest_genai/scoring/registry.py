"""Scorers named by string: built-ins and those other plugins contribute through a hook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_genai.scoring.base import FunctionScorer, Scorer
from pytest_genai.scoring.builtins import BUILTIN_FACTORIES

if TYPE_CHECKING:
    import pytest

ScorerSpec = Scorer | str | Callable[..., Any]


def collect_plugin_scorers(config: pytest.Config) -> dict[str, Scorer]:
    """Ask every plugin's `pytest_genai_register_scorers` hook for scorers, keyed by name."""
    found: dict[str, Scorer] = {}
    for contributed in config.hook.pytest_genai_register_scorers(config=config):
        if isinstance(contributed, Mapping):
            named = list(contributed.items())
        else:
            named = [(getattr(item, "name", None), item) for item in contributed or ()]
        for name, item in named:
            if not isinstance(item, Scorer):
                raise TypeError(
                    "pytest_genai_register_scorers must return Scorer objects, "
                    f"got {type(item).__name__}"
                )
            if name in found and found[name] is not item:
                raise ValueError(f"two plugins register a scorer named {name!r}")
            found[name] = item
    return found


NAMEABLE_BUILTINS = ("equals_expected", "is_json", "similarity")
"""Built-ins that work without arguments, so a name is enough."""


JUDGE_NAMES = (
    "correctness",
    "relevance_to_query",
    "safety",
    "guidelines",
    "expectations_guidelines",
    "equivalence",
    "retrieval_groundedness",
    "retrieval_relevance",
    "retrieval_sufficiency",
    "tool_call_correctness",
)
"""Built-in LLM judges (in `pytest_genai.judges`), listed here so that looking up a name
imports the judges only when a judge is named."""


def _builtin(name: str) -> Scorer | None:
    if name in JUDGE_NAMES:
        from pytest_genai.judges.builtin import BUILTIN_JUDGES, NAMEABLE_JUDGES

        if name in NAMEABLE_JUDGES:
            return BUILTIN_JUDGES[name]()
        raise ValueError(
            f"judge {name!r} needs arguments: use pytest_genai.judges.{name}(...) "
            "instead of its name"
        )
    if name in NAMEABLE_BUILTINS:
        return BUILTIN_FACTORIES[name]()
    if name in BUILTIN_FACTORIES:
        raise ValueError(
            f"scorer {name!r} needs arguments: use pytest_genai.scorers.{name}(...) "
            "instead of its name"
        )
    return None


def resolve_scorers(
    specs: ScorerSpec | Iterable[ScorerSpec],
    registered: Mapping[str, Scorer] | Callable[[], Mapping[str, Scorer]],
) -> list[Scorer]:
    """Turn what a user passed as scorers into `Scorer` objects.

    Accepts one or many of: a `Scorer`, a plain function (wrapped as by `@scorer`), or a name
    registered by a plugin or of a built-in that needs no arguments. `registered` may be a
    callable, asked only when a name is looked up.
    """
    if isinstance(specs, (Scorer, str)) or callable(specs):
        specs = [specs]  # type: ignore[list-item]
    resolved: list[Scorer] = []
    for spec in specs:  # type: ignore[union-attr]
        if isinstance(spec, Scorer):
            resolved.append(spec)
        elif isinstance(spec, str):
            if callable(registered):
                registered = registered()
            found = registered.get(spec) or _builtin(spec)
            if found is None:
                known = sorted({*registered, *BUILTIN_FACTORIES, *JUDGE_NAMES})
                raise ValueError(f"no scorer named {spec!r}; known names: {', '.join(known)}")
            resolved.append(found)
        elif callable(spec):
            resolved.append(FunctionScorer(spec))
        else:
            raise TypeError(f"not a scorer: {spec!r} (pass a Scorer, a function or a name)")
    if not resolved:
        raise ValueError("no scorers given")
    return resolved
