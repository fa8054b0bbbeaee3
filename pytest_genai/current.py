"""The test item running in this process, so `assert_scored` can record on it without a fixture.

pytest runs one test at a time per process (xdist workers are processes), so this is process
state, set from each test's setup until its teardown report. Not a context variable: event loops
that outlive a test (a module-scoped async fixture) and thread pools would see a stale or no
value. It is a stack only so that a pytest run nested in a test (pytester) restores the outer one.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_genai.recording import CaseRecorder

_running: list[pytest.Item] = []


def enter(item: pytest.Item) -> None:
    _running.append(item)


def leave(item: pytest.Item) -> None:
    if item in _running:
        _running.remove(item)


def current_item() -> pytest.Item | None:
    """The test being run in this process, if any."""
    return _running[-1] if _running else None


DETACHED: contextvars.ContextVar[bool] = contextvars.ContextVar("genai_detached", default=False)
"""Set in a thread doing work of a test that has finished (deferred judging): its spans belong
to no test, not to the one running meanwhile."""

prompt_dirs: list[tuple[Path, bool]] = []
"""The prompt directory of each pytest run in progress, and whether it enforces
`prompts.lock`: what `load_prompt` reads by default (a stack: pytester nests runs)."""


PROMPTS_KEY: pytest.StashKey[dict[tuple[str, int, str | None], Any]] = pytest.StashKey()
"""The prompt versions an item used (`PromptUse` by name, version and alias): its lineage."""


RECORDER_KEY: pytest.StashKey[CaseRecorder] = pytest.StashKey()
"""Where an item keeps its recorder (made on first use by `recording.recorder_for`)."""


_fixture_scopes: list[str] = []


def enter_fixture(scope: str) -> None:
    """A fixture of a wider scope than the test (session, package, module, class) starts
    setting up: what it does is shared by many tests, not this one's own work."""
    _fixture_scopes.append(scope)


def leave_fixture() -> None:
    if _fixture_scopes:
        _fixture_scopes.pop()


def shared_fixture_scope() -> str | None:
    """The scope of the widest-scoped fixture being set up, if any."""
    return _fixture_scopes[0] if _fixture_scopes else None


PLUGIN_SCORED_KEY: pytest.StashKey[bool] = pytest.StashKey()
"""Set on a `genai_eval` test whose return value the plugin is scoring: a failure there is
reported by its message alone (the traceback would be the plugin's, not the test's)."""


class FixtureScopes:
    """A plugin, registered in runs that capture spans: marks the spans that fixtures of a wider
    scope than the test make while they set up (a test without fixtures does not pay for it)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[object]) -> Any:
        if fixturedef.scope == "function":
            return (yield)
        enter_fixture(fixturedef.scope)
        try:
            return (yield)
        finally:
            leave_fixture()


FIXTURE_SCOPES_PLUGIN = "genai-fixture-scopes"
