from __future__ import annotations

from pathlib import Path

import pytest

from pytest_genai.config import DEFAULT_JUDGE_MODEL, OPTIONS, Settings


def test_defaults() -> None:
    settings = Settings.resolve({}, {}, {})
    assert settings == Settings()
    assert settings.judge_model == DEFAULT_JUDGE_MODEL
    assert settings.report is None


def test_precedence_cli_env_ini() -> None:
    ini = {"judge_model": "ini/model", "max_value_chars": "10"}
    env = {"GENAI_JUDGE_MODEL": "env/model"}
    cli = {"judge_model": "cli/model"}
    assert Settings.resolve(cli, env, ini).judge_model == "cli/model"
    assert Settings.resolve({}, env, ini).judge_model == "env/model"
    assert Settings.resolve({}, {}, ini).judge_model == "ini/model"
    assert Settings.resolve({}, {}, ini).max_value_chars == 10


def test_mlflow_model_uri_is_accepted() -> None:
    assert (
        Settings.resolve({"judge_model": "openai:/gpt-4o"}, {}, {}).judge_model == "openai/gpt-4o"
    )


def test_relative_report_path_counts_from_base_dir(tmp_path: Path) -> None:
    settings = Settings.resolve({"report": "out/r.json"}, {}, {}, tmp_path)
    assert settings.report == tmp_path / "out/r.json"


@pytest.mark.parametrize(
    ("cli", "env", "ini", "message"),
    [
        ({"max_value_chars": "0"}, {}, {}, "--genai-max-value-chars on the command line"),
        ({}, {"GENAI_MAX_VALUE_CHARS": "lots"}, {}, "environment variable GENAI_MAX_VALUE_CHARS"),
        ({}, {}, {"max_value_chars": "-3"}, "ini option genai_max_value_chars"),
        ({"judge_model": "gpt 4"}, {}, {}, "litellm model string"),
        ({"report": " "}, {}, {}, "expected a file path"),
    ],
)
def test_bad_values_are_usage_errors(
    cli: dict[str, str], env: dict[str, str], ini: dict[str, str], message: str
) -> None:
    with pytest.raises(pytest.UsageError, match=message):
        Settings.resolve(cli, env, ini)


def test_every_option_has_a_settings_field() -> None:
    fields = set(Settings.__dataclass_fields__)
    for option in OPTIONS:
        assert option.field in fields
        assert option.flag.startswith("--genai-")
        assert option.env == "GENAI_" + option.field.upper()
