"""Hooks other plugins (or a `conftest.py`) may implement to extend pytest-genai."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_genai.results import CaseResult

hookspec = pytest.hookspec


@hookspec
def pytest_genai_register_scorers(config: pytest.Config) -> Any:
    """Contribute scorers that tests may then name as strings.

    Return a list of `Scorer` objects (or a dict of name to `Scorer`); each is known by its
    `name`, e.g. `assert_scored(answer, ["polite"])`. Called once per process, the first time a
    scorer is looked up by name (and again on the next lookup if it raised). Two plugins
    registering the same name is an error.
    """


@hookspec
def pytest_genai_case_result(case: CaseResult, config: pytest.Config) -> None:
    """Called with every finished `CaseResult`, once per scored test, in the controller process.

    Under pytest-xdist this runs on the controller as each worker's report arrives, so an
    implementation sees every case of the run exactly once. Cases that count only because other
    cases of their suite were scored (a crash before any score) are delivered at session end.
    Use it to stream results elsewhere.
    """
