from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from pytest_genai.datasets.formats import FORMATS, load_dataset
from pytest_genai.datasets.model import Case, content_id
from pytest_genai.errors import DatasetError

# -- helpers ------------------------------------------------------------------------------------

CASES: list[dict[str, Any]] = [
    {
        "id": "refund",
        "inputs": {"question": "Can I get a refund?", "lang": "en"},
        "expectations": {
            "expected_response": "Yes, within 30 days.",
            "expected_facts": ["30 days"],
        },
        "tags": ["billing", "smoke"],
        "metadata": {"source": "faq"},
    },
    {
        "id": "hours",
        "inputs": {"question": "When are you open?", "lang": "fr"},
        "expectations": {"guidelines": ["polite", "short"]},
        "tags": ["support"],
        "metadata": {"owner": "ana"},
    },
    {
        "id": "weather",
        "inputs": {"question": "Weather in Paris?", "lang": "en"},
        "expectations": {
            "expected_tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]
        },
        "tags": ["weather", "tools"],
        "metadata": {},
    },
]
"""The same three cases, written in every format below."""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(tmp_path: Path) -> Path:
    return write(tmp_path / "cases.jsonl", "".join(json.dumps(c) + "\n" for c in CASES))


def write_json_list(tmp_path: Path) -> Path:
    return write(tmp_path / "cases.json", json.dumps(CASES, indent=2))


def write_json_object(tmp_path: Path) -> Path:
    # "cases" is not the first key, and an earlier value holds brackets and a list
    data = {"name": "faq [v2] {draft}", "notes": ["a", {"b": "]"}], "cases": CASES, "after": []}
    return write(tmp_path / "cases.json", json.dumps(data, indent=2))


def write_csv(tmp_path: Path) -> Path:
    # each documented convention is used by at least one row: `id`, an unprefixed column (an
    # input), `inputs.x` / `expectations.x` / `metadata.x` columns, whole-object JSON
    # `inputs` / `expectations` / `metadata` columns, tags as comma text, JSON and semicolons
    header = [
        "id",
        "question",
        "inputs.lang",
        "inputs",
        "expectations.expected_response",
        "expectations.expected_facts",
        "expectations.guidelines",
        "expectations",
        "tags",
        "metadata.source",
        "metadata",
    ]
    rows = [
        [
            "refund",
            "Can I get a refund?",
            "en",
            "",
            "Yes, within 30 days.",
            '["30 days"]',
            "",
            "",
            "billing, smoke",
            "faq",
            "",
        ],
        [
            "hours",
            "When are you open?",
            "fr",
            "",
            "",
            "",
            '["polite", "short"]',
            "",
            '["support"]',
            "",
            '{"owner": "ana"}',
        ],
        [
            "weather",
            "",
            "",
            '{"question": "Weather in Paris?", "lang": "en"}',
            "",
            "",
            "",
            json.dumps(CASES[2]["expectations"]),
            "weather;tools",
            "",
            "",
        ],
    ]
    path = tmp_path / "cases.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_yaml_list(tmp_path: Path) -> Path:
    return write(tmp_path / "cases.yaml", yaml.safe_dump(CASES, sort_keys=False))


def write_yaml_mapping(tmp_path: Path) -> Path:
    data = {"name": "faq", "cases": CASES}
    return write(tmp_path / "cases.yaml", yaml.safe_dump(data, sort_keys=False))


def write_yml_list(tmp_path: Path) -> Path:
    return write(tmp_path / "cases.yml", yaml.safe_dump(CASES, sort_keys=False))


def write_yml_mapping(tmp_path: Path) -> Path:
    return write(tmp_path / "cases.yml", yaml.safe_dump({"cases": CASES}, sort_keys=False))


WRITERS: dict[str, Callable[[Path], Path]] = {
    "jsonl": write_jsonl,
    "json-list": write_json_list,
    "json-object": write_json_object,
    "csv": write_csv,
    "yaml-list": write_yaml_list,
    "yaml-mapping": write_yaml_mapping,
    "yml-list": write_yml_list,
    "yml-mapping": write_yml_mapping,
}


def load_error(source: Any, **kwargs: Any) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_dataset(source, **kwargs)
    return info.value


def assert_at(
    err: DatasetError,
    source: Path | str,
    line: int | None,
    case: str | None,
    item: int | None = None,
) -> None:
    """The error names the source, the line (or item, without lines) and the case, in its
    attributes and its text."""
    assert err.source == str(source)
    assert err.line == line
    assert err.case == case
    assert err.item == item
    where = f"{source}:{line}" if line is not None else str(source)
    if line is None and item is not None:
        where += f" item {item}"
    assert str(err).startswith(where + (f" (case {case!r})" if case is not None else "") + ": ")


# -- every format -------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", list(WRITERS.values()), ids=list(WRITERS))
def test_every_format_reads_the_same_cases(tmp_path: Path, writer: Callable[[Path], Path]) -> None:
    path = writer(tmp_path)
    cases = load_dataset(path)
    assert all(isinstance(c, Case) for c in cases)
    assert [c.model_dump(exclude={"repeat"}) for c in cases] == CASES
    assert [c.repeat for c in cases] == [0, 0, 0]
    # a str path reads the same as a Path
    assert load_dataset(str(path)) == cases


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path / "CASES.JSONL", json.dumps(CASES[0]) + "\n")
    assert [c.id for c in load_dataset(path)] == ["refund"]


def test_csv_cells_are_text_unless_they_start_with_a_bracket(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "n", "items", "obj", "text", "tags", "expectations.expected_response"]
        )
        writer.writerow(["7", "42", '  [1, "two"]', '{"k": null}', "a [b]", '{"topic": "x"}', "3"])
    [case] = load_dataset(path)
    assert case.id == "7"
    assert case.inputs == {"n": "42", "items": [1, "two"], "obj": {"k": None}, "text": "a [b]"}
    assert case.tags == {"topic": "x"}
    assert case.tag_names == ["topic"]
    assert case.expectations == {"expected_response": "3"}


def test_csv_empty_cells_are_left_out(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id,question,extra,tags,metadata.owner\na,hi,,,\n")
    [case] = load_dataset(path)
    assert case.inputs == {"question": "hi"}
    assert case.tags == []
    assert case.metadata == {}


# -- ids ----------------------------------------------------------------------------------------


def test_custom_id_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        '{"name": "first", "inputs": {"q": 1}}\n{"name": "second", "inputs": {"q": 2}}\n',
    )
    cases = load_dataset(path, id_field="name")
    assert [c.id for c in cases] == ["first", "second"]
    assert cases[0].inputs == {"q": 1}
    # without id_field, "name" is not a case field
    err = load_error(path)
    assert "unknown field 'name'" in err.problem
    assert err.line == 1


def test_custom_id_field_in_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "case_id,question\nfirst,hi\nsecond,bye\n")
    cases = load_dataset(path, id_field="case_id")
    assert [c.id for c in cases] == ["first", "second"]
    assert cases[0].inputs == {"question": "hi"}


def test_custom_id_field_in_iterables() -> None:
    cases = load_dataset([{"key": 3, "inputs": {}}], id_field="key")
    assert [c.id for c in cases] == ["3"]


def test_rows_without_an_id_get_a_stable_digest(tmp_path: Path) -> None:
    rows = [
        {"inputs": {"q": "hi", "lang": "en"}, "expectations": {"expected_response": "hello"}},
        {"id": "", "inputs": {"q": "bye"}},
    ]
    path = write(tmp_path / "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    first = [c.id for c in load_dataset(path)]
    assert first == [c.id for c in load_dataset(path)]
    assert first == [c.id for c in load_dataset(rows)]
    assert first == [content_id(r) for r in rows]
    assert all(re.fullmatch(r"case-[0-9a-f]{10}", i) for i in first)
    # the key order of the file does not matter
    reordered = {
        "expectations": {"expected_response": "hello"},
        "inputs": {"lang": "en", "q": "hi"},
    }
    assert load_dataset([reordered])[0].id == first[0]
    # tags and metadata are not part of the content
    tagged = {**rows[0], "tags": ["x"], "metadata": {"m": 1}}
    assert load_dataset([tagged])[0].id == first[0]


def test_different_content_gets_different_ids() -> None:
    base = {"inputs": {"q": "hi"}, "expectations": {"expected_response": "hello"}}
    other_input = {"inputs": {"q": "hi!"}, "expectations": {"expected_response": "hello"}}
    other_expectation = {"inputs": {"q": "hi"}, "expectations": {"expected_response": "hey"}}
    no_expectation = {"inputs": {"q": "hi"}}
    ids = [c.id for c in load_dataset([base, other_input, other_expectation, no_expectation])]
    assert len(set(ids)) == 4


def test_numeric_ids_become_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        '{"id": 7, "inputs": {}}\n{"id": 0, "inputs": {}}\n{"id": 2.5, "inputs": {}}\n',
    )
    assert [c.id for c in load_dataset(path)] == ["7", "0", "2.5"]
    path = write(tmp_path / "c.yaml", "- id: 12\n  inputs: {}\n- id: 0\n  inputs: {}\n")
    assert [c.id for c in load_dataset(path)] == ["12", "0"]


# -- order and lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".yaml"])
def test_file_order_is_kept(tmp_path: Path, suffix: str) -> None:
    rows = [{"id": i, "inputs": {"n": n}} for n, i in enumerate(["zeta", "alpha", "mu", "beta"])]
    if suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in rows)
    elif suffix == ".json":
        text = json.dumps(rows)
    else:
        text = yaml.safe_dump(rows)
    cases = load_dataset(write(tmp_path / f"c{suffix}", text))
    assert [c.id for c in cases] == ["zeta", "alpha", "mu", "beta"]
    assert [c.inputs["n"] for c in cases] == [0, 1, 2, 3]


def test_blank_jsonl_lines_are_skipped_and_lines_still_count(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        '{"id": "a", "inputs": {}}\n\n   \n\t\n{"id": "b", "inputs": {}}\n\n',
    )
    assert [c.id for c in load_dataset(path)] == ["a", "b"]
    path = write(
        tmp_path / "c.jsonl",
        '{"id": "a", "inputs": {}}\n\n   \n{"id": "b", "inputs": {}}\n\n{"id": "c"}\n',
    )
    assert_at(load_error(path), path, 6, "c")


# -- errors -------------------------------------------------------------------------------------


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", '{"id": "a", "inputs": {}}\n\n{"id": "b", "inputs": \n')
    err = load_error(path)
    assert_at(err, path, 3, None)
    assert err.problem.startswith("not valid JSON")
    assert err.fix == "each line must be one JSON object"


def test_malformed_json_names_the_line_of_the_syntax_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        '[\n  {"id": "a", "inputs": {}},\n  {"id": "b",\n   "inputs": }\n]\n',
    )
    err = load_error(path)
    assert_at(err, path, 4, None)
    assert err.problem.startswith("not valid JSON")


def test_json_element_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        '[\n  {"id": "a", "inputs": {}},\n  {"id": "b",\n   "inputs": {}},\n  "oops",\n'
        '  {"id": "c", "inputs": {}}\n]\n',
    )
    err = load_error(path)
    assert_at(err, path, 5, None)
    assert err.problem == "a case must be an object, got str"
    assert err.fix is not None and '"inputs"' in err.fix


def test_json_object_element_lines(tmp_path: Path) -> None:
    # the line of an element inside {"cases": [...]}, after other keys spanning lines
    path = write(
        tmp_path / "c.json",
        '{\n  "name": "x [y]",\n  "notes": [\n    "a"\n  ],\n  "cases": [\n'
        '    {"id": "a", "inputs": {}},\n    {"id": "b", "inputs": 3}\n  ]\n}\n',
    )
    err = load_error(path)
    assert_at(err, path, 8, "b")
    assert err.problem == "'inputs' must be an object, got int"


def test_missing_inputs(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", '{"id": "a", "inputs": {}}\n{"id": "b", "outputs": 1}\n')
    err = load_error(path)
    assert_at(err, path, 2, "b")
    assert err.problem == "missing 'inputs'"
    assert err.fix is not None and '"inputs"' in err.fix


def test_missing_inputs_without_an_id_names_the_digest(tmp_path: Path) -> None:
    row = {"expectations": {"expected_response": "x"}}
    path = write(tmp_path / "c.jsonl", json.dumps(row) + "\n")
    assert_at(load_error(path), path, 1, content_id(row))


@pytest.mark.parametrize("value", ["hello", ["q"], 3, None])
def test_inputs_not_an_object(tmp_path: Path, value: Any) -> None:
    path = write(tmp_path / "c.jsonl", json.dumps({"id": "a", "inputs": value}) + "\n")
    err = load_error(path)
    assert_at(err, path, 1, "a")
    assert err.problem == f"'inputs' must be an object, got {type(value).__name__}"


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        '{"id": "a", "inputs": {}}\n'
        '{"id": "b", "inputs": {}, "expectation": {"expected_response": "x"}}\n',
    )
    err = load_error(path)
    assert_at(err, path, 2, "b")
    assert err.problem == "unknown field 'expectation'"
    assert err.fix is not None and "'expectations'" in err.fix and "'metadata'" in err.fix


def test_repeat_is_not_a_row_field() -> None:
    err = load_error([{"id": "a", "inputs": {}, "repeat": 2}])
    assert err.problem == "unknown field 'repeat'"


@pytest.mark.parametrize(
    ("expectations", "key"),
    [
        ({"expected_facts": "30 days"}, "expected_facts"),
        ({"expected_facts": ["30 days", 30]}, "expected_facts"),
        ({"guidelines": 3}, "guidelines"),
        ({"guidelines": {"tone": "polite"}}, "guidelines"),
        ({"guidelines": ["polite", None]}, "guidelines"),
        ({"expected_tool_calls": [{"arguments": {"city": "Paris"}}]}, "expected_tool_calls"),
        ({"expected_tool_calls": {"name": "get_weather"}}, "expected_tool_calls"),
        ({"expected_tool_calls": ["get_weather"]}, "expected_tool_calls"),
    ],
)
def test_bad_reserved_expectations(tmp_path: Path, expectations: dict[str, Any], key: str) -> None:
    rows = [{"id": "a", "inputs": {}}, {"id": "b", "inputs": {}, "expectations": expectations}]
    path = write(tmp_path / "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    err = load_error(path)
    assert_at(err, path, 2, "b")
    assert f"expectations.{key} must be" in err.problem


def test_good_reserved_expectations_and_custom_keys() -> None:
    expectations = [
        {"expected_facts": []},
        {"guidelines": "be polite"},
        {"guidelines": ["be polite", "be short"]},
        {"expected_tool_calls": [{"name": "f"}, {"name": "g", "arguments": {"x": 1}}]},
        {"expected_retrieved_context": [{"content": "doc"}], "my_key": 3, "expected_facts": None},
    ]
    cases = load_dataset(
        [{"inputs": {"n": i}, "expectations": e} for i, e in enumerate(expectations)]
    )
    assert [c.expectations for c in cases] == expectations


DUPLICATES = {
    "jsonl": (
        "c.jsonl",
        '{"id": "a", "inputs": {}}\n{"id": "b", "inputs": {}}\n\n{"id": "a", "inputs": {}}\n',
        4,
        1,
    ),
    "json": (
        "c.json",
        '[\n  {"id": "a", "inputs": {}},\n  {"id": "b", "inputs": {}},\n  {\n    "id": "a",\n'
        '    "inputs": {}\n  }\n]\n',
        4,
        2,
    ),
    "csv": ("c.csv", "id,question\na,x\nb,y\na,z\n", 4, 2),
    "yaml": (
        "c.yaml",
        "cases:\n  - id: a\n    inputs: {}\n  - id: b\n    inputs: {}\n  - id: a\n    inputs: {}\n",
        6,
        2,
    ),
}


@pytest.mark.parametrize(("name", "text", "line", "first"), DUPLICATES.values(), ids=DUPLICATES)
def test_duplicate_ids(tmp_path: Path, name: str, text: str, line: int, first: int) -> None:
    path = write(tmp_path / name, text)
    err = load_error(path)
    assert_at(err, path, line, "a")
    assert err.problem == f"duplicate case id 'a' (first on line {first})"
    assert err.fix == "give every case its own id"


def test_duplicate_content_without_ids(tmp_path: Path) -> None:
    row = {"inputs": {"q": "hi"}}
    path = write(tmp_path / "c.jsonl", f"{json.dumps(row)}\n{json.dumps(row)}\n")
    err = load_error(path)
    assert_at(err, path, 2, content_id(row))
    assert "first on line 1" in err.problem


def test_duplicate_ids_from_an_iterable() -> None:
    err = load_error([{"id": "a", "inputs": {}}, {"id": "a", "inputs": {"x": 1}}])
    assert_at(err, "dataset list", None, "a", item=1)
    assert err.problem == "duplicate case id 'a' (first as item 0)"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.jsonl", ""),
        ("c.jsonl", "\n\n   \n\t\n"),
        ("c.csv", ""),
        ("c.csv", "id,question\n"),
        ("c.json", "[]"),
        ("c.json", '{"cases": []}'),
        ("c.yaml", "[]\n"),
        ("c.yml", "cases: []\n"),
    ],
)
def test_empty_dataset(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path / name, text)
    err = load_error(path)
    assert_at(err, path, None, None)
    assert err.problem == "the dataset has no cases"
    assert err.fix == "add at least one case"


@pytest.mark.parametrize("name", ["c.json", "c.yaml"])
@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_json_or_yaml_file_is_a_dataset_error(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path / name, text)
    assert load_error(path).source == str(path)


def test_empty_iterable() -> None:
    err = load_error([])
    assert_at(err, "dataset list", None, None)
    assert err.problem == "the dataset has no cases"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    err = load_error(path)
    assert_at(err, path, None, None)
    assert err.problem == "no such file"
    assert err.fix is not None and "path" in err.fix


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.jsonl"
    path.mkdir()
    assert load_error(path).problem == "no such file"


@pytest.mark.parametrize(("name", "shown"), [("c.txt", "'.txt'"), ("cases", "'(no extension)'")])
def test_unknown_extension(tmp_path: Path, name: str, shown: str) -> None:
    path = write(tmp_path / name, '{"inputs": {}}\n')
    err = load_error(path)
    assert_at(err, path, None, None)
    assert err.problem == f"unknown dataset format {shown}"
    assert err.fix is not None and all(s in err.fix for s in FORMATS)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        "- id: a\n  inputs: {q: 1}\n- id: b\n  inputs: {q: [1, 2}\n- id: c\n  inputs: {}\n",
    )
    err = load_error(path)
    assert_at(err, path, 4, None)
    assert err.problem.startswith("not valid YAML")


@pytest.mark.parametrize(
    "text", ["just a sentence\n", "name: x\nitems:\n  - inputs: {}\n", "cases: 3\n", "42\n"]
)
def test_yaml_that_is_not_a_list(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "c.yaml", text)
    err = load_error(path)
    assert_at(err, path, None, None)
    assert err.problem == "expected a list of cases, or a mapping with a 'cases' list"
    assert err.fix is not None and "cases:" in err.fix


@pytest.mark.parametrize("text", ['{"items": []}', '"text"', "3", '{"cases": {"a": 1}}'])
def test_json_that_is_not_a_list(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "c.json", text)
    err = load_error(path)
    assert_at(err, path, None, None)
    assert err.problem == "expected a list of cases, or an object with a 'cases' list"


def test_yaml_lines_of_items(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        "# a comment\ncases:\n  - id: a\n    inputs:\n      q: 1\n\n  - id: b\n    inputs: []\n",
    )
    err = load_error(path)
    assert_at(err, path, 7, "b")
    assert err.problem == "'inputs' must be an object, got list"
    path = write(tmp_path / "c.yaml", "- id: a\n  inputs: {}\n- just text\n")
    err = load_error(path)
    assert_at(err, path, 3, None)
    assert err.problem == "a case must be an object, got str"


def test_csv_cell_with_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", 'id,question,tags\na,hi,"[""x""]"\nb,{not json,\n')
    err = load_error(path)
    assert_at(err, path, 3, None)
    assert err.problem.startswith("column 'question' holds invalid JSON")
    assert err.fix is not None and "JSON" in err.fix


def test_csv_line_of_a_record_spanning_lines_is_where_it_starts(tmp_path: Path) -> None:
    # record "a" spans lines 2-3; the error must name the line it starts on
    path = write(tmp_path / "c.csv", 'id,question,extra\na,"two\nlines",{oops\nb,x,\n')
    err = load_error(path)
    assert_at(err, path, 2, None)
    assert "column 'extra'" in err.problem


def test_csv_duplicate_after_a_record_spanning_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", 'id,question\na,"two\nlines"\nb,x\na,y\n')
    err = load_error(path)
    assert_at(err, path, 5, "a")
    assert err.problem == "duplicate case id 'a' (first on line 2)"


def test_csv_whole_inputs_column_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "id,inputs,question\na,hello,hi\n")
    err = load_error(path)
    assert err.source == str(path)
    assert err.line == 2


def test_csv_with_a_utf8_bom(tmp_path: Path) -> None:
    # spreadsheet programs save "CSV UTF-8" with a byte order mark
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffid,question\nfirst,hi\n".encode())
    [case] = load_dataset(path)
    assert case.id == "first"
    assert case.inputs == {"question": "hi"}


CONSTRUCTED: list[Any] = []


class Trap:
    def __setstate__(self, state: Any) -> None:
        CONSTRUCTED.append(("Trap", state))


def trap(*args: Any) -> dict[str, Any]:
    CONSTRUCTED.append(("trap", args))
    return {"inputs": {}}


@pytest.fixture
def constructed() -> Iterator[list[Any]]:
    CONSTRUCTED.clear()
    yield CONSTRUCTED
    CONSTRUCTED.clear()


@pytest.mark.parametrize(
    "tagged",
    [
        f"!!python/object:{__name__}.Trap {{inputs: {{}}}}",
        f"!!python/object/apply:{__name__}.trap [1]",
    ],
)
def test_yaml_python_tags_are_refused_and_not_constructed(
    tmp_path: Path, constructed: list[Any], tagged: str
) -> None:
    text = f"- id: a\n  inputs: {{}}\n- {tagged}\n"
    # an unsafe loader would construct it: the trap works
    yaml.load(text, Loader=yaml.UnsafeLoader)
    assert constructed
    constructed.clear()

    path = write(tmp_path / "c.yaml", text)
    err = load_error(path)
    assert err.source == str(path)
    assert err.line == 3
    assert err.problem.startswith("not valid YAML")
    assert constructed == []


# -- every error has a fix ----------------------------------------------------------------------

FILE_ERRORS = {
    "malformed-jsonl": ("c.jsonl", '{"inputs": {}}\n{oops\n'),
    "malformed-json": ("c.json", '[\n  {"inputs": {}},\n  {"inputs": }\n]\n'),
    "json-not-a-list": ("c.json", '{"items": []}'),
    "json-element-not-object": ("c.json", '[\n  {"inputs": {}},\n  42\n]\n'),
    "missing-inputs": ("c.jsonl", '{"id": "a"}\n'),
    "inputs-not-object": ("c.jsonl", '{"id": "a", "inputs": "hi"}\n'),
    "unknown-field": ("c.jsonl", '{"id": "a", "inputs": {}, "expectation": {}}\n'),
    "expected-facts": ("c.jsonl", '{"inputs": {}, "expectations": {"expected_facts": "x"}}\n'),
    "guidelines": ("c.jsonl", '{"inputs": {}, "expectations": {"guidelines": 1}}\n'),
    "tool-calls": ("c.jsonl", '{"inputs": {}, "expectations": {"expected_tool_calls": [{}]}}\n'),
    "tags-wrong-type": ("c.jsonl", '{"inputs": {}, "tags": "a,b"}\n'),
    "duplicate-id": ("c.jsonl", '{"id": "a", "inputs": {}}\n{"id": "a", "inputs": {}}\n'),
    "empty": ("c.jsonl", ""),
    "missing-file": ("missing.jsonl", None),
    "unknown-extension": ("c.txt", "x"),
    "yaml-syntax": ("c.yaml", "- inputs: [\n"),
    "yaml-not-a-list": ("c.yaml", "just text\n"),
    "yaml-python-tag": ("c.yaml", f"- !!python/object/apply:{__name__}.trap [1]\n"),
    "csv-invalid-json": ("c.csv", "id,question\na,{oops\n"),
}


@pytest.mark.parametrize(("name", "text"), FILE_ERRORS.values(), ids=FILE_ERRORS)
def test_every_file_error_has_a_fix(tmp_path: Path, name: str, text: str | None) -> None:
    path = tmp_path / name
    if text is not None:
        write(path, text)
    err = load_error(path)
    assert err.source == str(path)
    assert err.fix, f"no fix in: {err}"
    assert str(err).endswith("; " + err.fix)


def _raises() -> list[Any]:
    raise ValueError("boom")


SOURCE_ERRORS: dict[str, Any] = {
    "callable-raises": _raises,
    "callable-returns-int": lambda: 42,
    "item-not-object": [{"inputs": {}}, "text"],
    "bad-expectations": [{"inputs": {}, "expectations": {"guidelines": 1}}],
}


@pytest.mark.parametrize("source", SOURCE_ERRORS.values(), ids=SOURCE_ERRORS)
def test_every_source_error_has_a_fix(source: Any) -> None:
    err = load_error(source)
    assert err.fix, f"no fix in: {err}"


# -- iterables and callables --------------------------------------------------------------------


def test_list_of_dicts() -> None:
    cases = load_dataset([dict(c) for c in CASES])
    assert [c.model_dump(exclude={"repeat"}) for c in cases] == CASES


def test_generator() -> None:
    cases = load_dataset(c for c in CASES)
    assert [c.id for c in cases] == ["refund", "hours", "weather"]


def test_list_of_case_objects_kept_as_they_are() -> None:
    given = [Case(id="x", inputs={"q": 1}, repeat=2), Case(id="y", inputs={})]
    cases = load_dataset(given)
    assert cases == given
    assert cases[0] is given[0]
    err = load_error([*given, Case(id="x", inputs={"other": True})])
    assert err.problem == "duplicate case id 'x' (first as item 0)"


def test_mixed_dicts_and_cases() -> None:
    cases = load_dataset([Case(id="x", inputs={}), {"id": "y", "inputs": {}}])
    assert [c.id for c in cases] == ["x", "y"]


def test_callable_returning_a_list() -> None:
    calls: list[int] = []

    def make_cases() -> list[dict[str, Any]]:
        calls.append(1)
        return [dict(c) for c in CASES]

    cases = load_dataset(make_cases)
    assert calls == [1]
    assert [c.id for c in cases] == ["refund", "hours", "weather"]


def test_callable_errors_name_the_callable() -> None:
    def make_cases() -> list[dict[str, Any]]:
        return [{"id": "a", "inputs": {}}, {"id": "b"}]

    err = load_error(make_cases)
    assert_at(err, "dataset make_cases()", None, "b", item=1)
    assert err.problem == "missing 'inputs'"


def test_callable_that_raises() -> None:
    def broken_cases() -> list[Any]:
        raise ValueError("database is down")

    err = load_error(broken_cases)
    assert_at(err, "dataset broken_cases()", None, None)
    assert err.problem == "raised ValueError: database is down"
    assert isinstance(err.__cause__, ValueError)


def test_generator_function_that_raises_while_producing() -> None:
    def streamed_cases() -> Iterator[dict[str, Any]]:
        yield {"id": "a", "inputs": {}}
        raise ConnectionError("database is down")

    err = load_error(streamed_cases)
    assert err.source == "dataset streamed_cases()"
    assert "ConnectionError: database is down" in err.problem


@pytest.mark.parametrize(
    ("value", "kind"), [(42, "int"), ("refund", "str"), (None, "NoneType"), ({"a": 1}, "dict")]
)
def test_callable_returning_a_non_iterable_or_a_string(value: Any, kind: str) -> None:
    def cases() -> Any:
        return value

    err = load_error(cases)
    assert_at(err, "dataset cases()", None, None)
    assert err.problem == f"expected an iterable of cases, got {kind}"
    assert err.fix is not None and "list" in err.fix


def test_a_dict_is_not_a_dataset() -> None:
    err = load_error({"inputs": {"q": 1}})
    assert_at(err, "dataset dict", None, None)
    assert err.problem == "expected an iterable of cases, got dict"


def test_iterable_item_that_is_not_an_object_names_the_item() -> None:
    err = load_error([{"inputs": {}}, {"inputs": {"x": 1}}, 7])
    assert_at(err, "dataset list", None, None, item=2)
    assert err.problem == "a case must be an object, got int"


def test_iterable_row_errors_name_the_item() -> None:
    err = load_error([{"id": "a", "inputs": {}}, {"id": "b", "inputs": "hi"}])
    assert err.case == "b"
    assert "item 1" in str(err)


# -- relative paths -----------------------------------------------------------------------------


def test_relative_path_resolves_against_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "project"
    (base / "data").mkdir(parents=True)
    write(base / "data" / "c.jsonl", '{"id": "from-base", "inputs": {}}\n')
    # the working directory holds a different file at the same relative path
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "c.jsonl", '{"id": "from-cwd", "inputs": {}}\n')
    monkeypatch.chdir(tmp_path)

    assert [c.id for c in load_dataset("data/c.jsonl", base=base)] == ["from-base"]
    assert [c.id for c in load_dataset(Path("data/c.jsonl"), base=base)] == ["from-base"]
    assert [c.id for c in load_dataset("data/c.jsonl")] == ["from-cwd"]
    # an absolute path ignores base
    absolute = tmp_path / "data" / "c.jsonl"
    assert [c.id for c in load_dataset(absolute, base=base)] == ["from-cwd"]


def test_missing_relative_path_names_the_resolved_file(tmp_path: Path) -> None:
    err = load_error("data/none.jsonl", base=tmp_path)
    assert_at(err, tmp_path / "data" / "none.jsonl", None, None)
    assert err.problem == "no such file"


# -- Case ---------------------------------------------------------------------------------------


def test_case_is_frozen() -> None:
    case = Case(id="a", inputs={"q": 1})
    with pytest.raises(ValidationError, match="frozen"):
        case.id = "b"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        case.expectations = {}  # type: ignore[misc]
    assert case.id == "a"


def test_case_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="expectation"):
        Case(id="a", inputs={}, expectation={"expected_response": "x"})  # type: ignore[call-arg]


def test_case_defaults_and_tag_names() -> None:
    case = Case(id="a", inputs={})
    assert (case.expectations, case.tags, case.metadata, case.repeat) == ({}, [], {}, 0)
    assert Case(id="a", inputs={}, tags=["x", "y"]).tag_names == ["x", "y"]
    assert Case(id="a", inputs={}, tags={"topic": "billing"}).tag_names == ["topic"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "twice.json",
            '{"cases": [{"id": "old", "inputs": {}}],\n "cases": [{"id": "new", "inputs": {}}]}',
        ),
        (
            "twice.yaml",
            "cases:\n  - id: old\n    inputs: {}\ncases:\n  - id: new\n    inputs: {}\n",
        ),
    ],
)
def test_a_repeated_cases_key_reads_the_last_as_the_parser_does(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert [c.id for c in load_dataset(path)] == ["new"]
