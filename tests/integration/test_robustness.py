"""Bad input, odd tests and hostile values: every case is still counted, nothing crashes pytest,
and nothing secret is written."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from typing import Any

import pytest


def report(pytester: pytest.Pytester, name: str = "r.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text())


def cases(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    return {c["case_id"]: c for c in report(pytester)["cases"]}


def no_internal_error(result: pytest.RunResult) -> None:
    assert "INTERNALERROR" not in "\n".join(result.outlines + result.errlines)


def test_long_lived_event_loop_records_on_the_right_test(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    # anyio keeps one task for the module: a context variable set per test would go stale
    pytester.makepyfile(
        test_async="""
        import pytest
        from pytest_genai import assert_scored, scorers

        pytestmark = pytest.mark.anyio

        @pytest.fixture(scope="module")
        def anyio_backend():
            return "asyncio"

        @pytest.fixture(scope="module")
        async def client():
            yield "client"

        @pytest.mark.parametrize("answer", ["ok a", "bad", "ok c"])
        async def test_answer(client, answer):
            assert_scored(answer, scorers.contains("ok"))
        """
    )
    result = pytester.runpytest("--genai-report=r.json", *xdist_args)
    result.assert_outcomes(passed=2, failed=1)
    found = cases(pytester)
    assert sorted(found) == ["bad", "ok a", "ok c"]
    assert [len(c["feedback"]) for c in found.values()] == [1, 1, 1]
    assert found["bad"]["outcome"] == "failed"


def test_assert_scored_in_a_thread_pool_records(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_pool="""
        from concurrent.futures import ThreadPoolExecutor
        from pytest_genai import assert_scored, scorers

        def test_pool():
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda t: assert_scored(t, scorers.length(max=9)), ["a", "b"]))
        """
    )
    pytester.runpytest("--genai-report=r.json").assert_outcomes(passed=1)
    assert len(cases(pytester)["test_pool"]["feedback"]) == 2


UNSERIALISABLE = """
import pydantic
from pytest_genai import Feedback, assert_scored, scorer

class Thing:
    def __repr__(self):
        return "<Thing>"

class Broken:
    def __repr__(self):
        raise RuntimeError("no repr")

class Client:
    pass

class Answer(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    text: str
    client: Client

def test_metadata(genai):
    genai.record("m", True, metadata={"obj": Thing(), "broken": Broken()})

def test_model_output():
    @scorer
    def has_text(outputs):
        return Feedback(value=bool(outputs.text), metadata={"raw": Thing()})
    assert_scored(Answer(text="ok", client=Client()), has_text)

def test_after():
    assert_scored("fine", lambda outputs: True)
"""


def test_values_pydantic_cannot_serialise(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_values=UNSERIALISABLE)
    result = pytester.runpytest("--genai-report=r.json", *xdist_args)
    no_internal_error(result)
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    found = cases(pytester)
    assert sorted(found) == ["test_after", "test_metadata", "test_model_output"]
    assert found["test_metadata"]["feedback"][0]["metadata"] == {
        "obj": "<Thing>",
        "broken": "<unrepresentable Broken>",
    }
    assert found["test_model_output"]["outputs"].startswith("Answer(")


def test_a_crashed_worker_still_counts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_crash="""
        import os
        import pytest
        from pytest_genai import assert_scored, scorers

        @pytest.mark.parametrize("q", ["a", "b", "c", "die"])
        def test_app(q):
            if q == "die":
                os._exit(3)
            assert_scored("ok " + q, scorers.contains("ok"))
        """
    )
    result = pytester.runpytest("-n", "2", "--genai-report=r.json")
    result.stdout.fnmatch_lines(["test_crash.py::test_app*contains*4*3*0*1*0*75.0%*"])
    found = cases(pytester)
    assert found["die"]["outcome"] == "error"


def test_step_summary_failure_under_warnings_as_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path))  # a directory: can't append
    pytester.makepyfile(test_ok="def test_ok(genai):\n    genai.record('x', True)\n")
    result = pytester.runpytest("-W", "error", "--junitxml=j.xml", "--genai-report=r.json")
    no_internal_error(result)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pytest-genai: could not write the GitHub step summary *"])
    assert (pytester.path / "j.xml").exists()
    assert (pytester.path / "r.json").exists()


def test_a_raising_case_listener_does_not_stop_the_run(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(
        "def pytest_genai_case_result(case, config):\n    raise RuntimeError('listener down')\n"
    )
    pytester.makepyfile(
        test_two="def test_a(genai):\n    genai.record('x', True)\n\n"
        "def test_b(genai):\n    genai.record('x', True)\n"
    )
    result = pytester.runpytest(*xdist_args)
    no_internal_error(result)
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["pytest-genai: a pytest_genai_case_result hook raised RuntimeError: listener down"]
    )
    assert result.stdout.str().count("listener down") == 1


def test_secrets_never_reach_the_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-secret-0123456789"
    monkeypatch.setenv("MY_SERVICE_API_KEY", canary)
    pytester.makepyfile(
        test_leak=f"""
        import os
        from pytest_genai import assert_scored, scorers

        def test_leak(genai):
            key = os.environ["MY_SERVICE_API_KEY"]
            genai.record("m", True, metadata={{"headers": {{"Authorization": "Bearer " + key}}}})
            assert_scored(
                "answer with " + key,
                scorers.contains("nope"),
                inputs={{"api_key": key, "note": "token sk-abcdefghijklmnopqrstu"}},
            )

        def test_error(genai):
            raise RuntimeError("connect failed for https://bob:{canary}@example.com")
        """
    )
    pytester.runpytest("--genai-report=r.json", "--junitxml=j.xml")
    found = cases(pytester)
    leak = found["test_leak"]
    assert leak["inputs"] == {"api_key": "***", "note": "token ***"}
    assert leak["outputs"] == "answer with ***"
    assert leak["feedback"][0]["metadata"] == {"headers": {"Authorization": "***"}}
    assert (
        found["test_error"]["error"]
        == "RuntimeError: connect failed for https://bob:***@example.com"
    )
    assert canary not in json.dumps(report(pytester))
    # pytest's own failure text in the JUnit file is not ours to change; our properties are clean
    properties = ET.parse(pytester.path / "j.xml").getroot().iter("property")
    assert all(canary not in (p.get("value") or "") for p in properties)


def test_strict_xpass_is_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
        import pytest
        from pytest_genai import assert_scored

        @pytest.mark.xfail(strict=True)
        def test_x():
            assert_scored("a", lambda outputs: True)
        """
    )
    pytester.runpytest("--genai-report=r.json").assert_outcomes(failed=1)
    assert cases(pytester)["test_x"]["outcome"] == "failed"


def test_record_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_values="""
        def test_values(genai):
            genai.record("none", None)
            genai.record("list", [1, "a"])
            genai.record("long", "y" * 50)
        """
    )
    pytester.runpytest("--genai-report=r.json", "--genai-max-value-chars=10")
    values = {f["name"]: f["value"] for f in cases(pytester)["test_values"]["feedback"]}
    assert values == {"none": None, "list": '[1, "a"]', "long": "y" * 10 + "…[truncated 40 chars]"}


def test_duplicate_scorer_names_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dup="""
        from pytest_genai import assert_scored, scorers

        def test_dup():
            assert_scored("a b", [scorers.contains("a"), scorers.contains("b")])
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ValueError: two scorers are both named 'contains'; give one*"])


def test_report_file_gets_the_usual_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok(genai):\n    genai.record('x', True)\n")
    pytester.runpytest("--genai-report=r.json")
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((pytester.path / "r.json").stat().st_mode)
    assert mode == 0o666 & ~umask


def test_junit_writer_is_where_the_plugin_expects_it() -> None:
    # the suite-level JUnit properties rely on pytest keeping its writer under this key
    from _pytest.junitxml import LogXML, xml_key

    assert isinstance(xml_key, pytest.StashKey)
    assert hasattr(LogXML, "add_global_property")
