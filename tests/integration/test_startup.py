"""The plugin costs nothing in a suite that does not use it, and can be turned off."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

HEAVY = ("litellm", "openai", "httpx", "pydantic", "tabulate", "jinja2", "opentelemetry")


def loaded(modules: str) -> list[str]:
    return [m for m in modules.split(",") if m]


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, pytest_genai, pytest_genai.plugin; "
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded(done.stdout.strip()) == []


UNUSED_SUITE_CONFTEST = textwrap.dedent(
    """
    import socket, sys

    attempts = []
    _connect = socket.socket.connect

    def guarded(self, address):
        attempts.append(address)
        return _connect(self, address)

    socket.socket.connect = guarded

    def pytest_unconfigure(config):
        heavy = [m for m in sys.modules if m.split('.')[0] in {heavy!r}]
        print("HEAVY=" + ",".join(sorted(heavy)))
        print("CONNECTS=" + repr(attempts))
        print("GENAI_LOADED=" + str(config.pluginmanager.has_plugin("genai")))
    """
).format(heavy=HEAVY)


def test_a_suite_without_genai_features_pays_nothing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(UNUSED_SUITE_CONFTEST)
    pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.mark.parametrize("n", range(5))
        def test_n(n):
            assert n < 5

        def test_skip():
            pytest.skip("nothing to see")

        def test_fail():
            assert False
        """
    )

    def files() -> list[str]:
        # runpytest_subprocess keeps its --basetemp and captured output here: not ours
        ours = (p.name for p in pytester.path.iterdir() if not p.name.startswith("runpytest"))
        return sorted(name for name in ours if name not in ("stdout", "stderr"))

    before = files()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, skipped=1, failed=1)
    output = result.stdout.str()
    assert "GENAI_LOADED=True" in output
    heavy = output.split("HEAVY=")[1].splitlines()[0]
    assert loaded(heavy) == []
    assert "CONNECTS=[]" in output
    mentions = [
        line
        for line in result.stdout.lines
        if "genai" in line.lower() and not line.startswith(("rootdir:", "running:", "     in:"))
    ]
    assert [m.split()[0] for m in mentions] == ["plugins:", "GENAI_LOADED=True"]
    assert files() == before


def test_output_is_identical_with_and_without_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a(): pass\ndef test_b(): assert 0")

    def lines(*args: str) -> list[str]:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args)
        # drop the header (plugin list) and the timing on the last line
        out = result.stdout.lines
        start = next(i for i, line in enumerate(out) if line.startswith("collected"))
        return [line.split(" in ")[0] for line in out[start:]]

    assert lines() == lines("-p", "no:genai")


def test_p_no_genai_turns_it_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uses="def test_x(genai):\n    genai.record('a', True)")
    result = pytester.runpytest("-p", "no:genai")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'genai' not found*"])
    assert "genai quality" not in result.stdout.str()
    bad = pytester.runpytest("-p", "no:genai", "--genai-report=r.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_help_shows_the_genai_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "pytest-genai: LLM evaluation:",
            "*--genai-report=PATH*",
            "*--genai-judge-model=MODEL*",
            "*--genai-max-value-chars=N*",
        ]
    )
    assert "genai_judge_model" in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "env", "ini", "message"),
    [
        (["--genai-max-value-chars=0"], {}, "", "--genai-max-value-chars on the command line"),
        ([], {"GENAI_MAX_VALUE_CHARS": "many"}, "", "environment variable GENAI_MAX_VALUE_CHARS"),
        ([], {}, "genai_judge_model = not a model", "ini option genai_judge_model"),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    ini: str,
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_ok="def test_ok(): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest-genai: bad value for {message}*"])
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_bad_value_is_a_usage_error_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok(): pass")
    result = pytester.runpytest_subprocess("-n", "2", "--genai-judge-model=a b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad value for --genai-judge-model*litellm model string*"])
