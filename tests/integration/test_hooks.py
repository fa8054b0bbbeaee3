"""The `pytest_genai_*` hooks other plugins implement."""

from __future__ import annotations

import json

import pytest

CONFTEST = """
import json
from pytest_genai import scorer

seen = []


@scorer
def polite(outputs):
    return "please" in outputs.lower()


def pytest_genai_register_scorers(config):
    return [polite]


def pytest_genai_case_result(case, config):
    seen.append([case.nodeid, case.outcome, [f.name for f in case.feedback]])


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open("seen.json", "w") as handle:
            json.dump(seen, handle)
"""

TESTS = """
import pytest
from pytest_genai import assert_scored


@pytest.mark.parametrize("reply", ["Please wait", "Wait", "Please hold"])
def test_reply(reply):
    assert_scored(reply, ["polite"])
"""


def test_plugins_contribute_scorers_and_see_every_case(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_replies=TESTS)
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_replies.py::test_reply*polite*3*2*1*0*0*66.7%*"])
    seen = sorted(json.loads((pytester.path / "seen.json").read_text()))
    assert seen == [
        ["test_replies.py::test_reply[Please hold]", "passed", ["polite"]],
        ["test_replies.py::test_reply[Please wait]", "passed", ["polite"]],
        ["test_replies.py::test_reply[Wait]", "failed", ["polite"]],
    ]


def test_two_plugins_registering_one_name_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        CONFTEST
        + """
class Other:
    def pytest_genai_register_scorers(self, config):
        return [scorer(name="polite")(lambda outputs: True)]


def pytest_configure(config):
    config.pluginmanager.register(Other())
"""
    )
    pytester.makepyfile(test_replies=TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*ValueError: two plugins register a scorer named 'polite'*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_hook_returning_a_non_scorer_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_genai_register_scorers(config):\n    return ['polite']\n")
    pytester.makepyfile(test_replies=TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*must return Scorer objects, got str*"])


def test_plugin_works_with_autoload_disabled(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_x="def test_x(genai):\n    genai.record('ok', True)\n")
    result = pytester.runpytest_subprocess("-p", "pytest_genai.plugin")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= genai quality =*", "test_x.py::test_x*ok*1*1*0*"])


def test_dict_form_registers_under_its_keys(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
from pytest_genai import scorer


def pytest_genai_register_scorers(config):
    return {"courteous": scorer(lambda outputs: "please" in outputs.lower())}
"""
    )
    pytester.makepyfile(test_replies=TESTS.replace('"polite"', '"courteous"'))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_replies.py::test_reply*<lambda>*3*2*1*0*0*66.7%*"])


def test_registration_is_asked_only_when_a_name_is_used(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "def pytest_genai_register_scorers(config):\n    raise RuntimeError('broken plugin')\n"
    )
    pytester.makepyfile(
        test_obj="""
from pytest_genai import assert_scored, scorers

def test_object():
    assert_scored("hi", scorers.length(max=5))

def test_name():
    assert_scored("{}", "is_json")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: broken plugin*"])
