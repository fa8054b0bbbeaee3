"""Reading datasets: JSONL, JSON, CSV and YAML files, iterables and callables, into `Case`s.

Every problem is a `DatasetError` naming the file, the line (or item) and the case, with the fix.
JSONL is read line by line, each row made a `Case` before the next is read, so a large file is
never held twice.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_genai.datasets.model import ROW_FIELDS, Case, content_id
from pytest_genai.errors import DatasetError

Row = tuple[int | None, Any]
"""A raw row and the line it starts on (None when the source has no lines)."""
DatasetSource = str | Path | Iterable[Any] | Callable[[], Iterable[Any]]

FORMATS = (".jsonl", ".json", ".csv", ".yaml", ".yml")
YAML_HINT = "pip install 'pytest-genai[yaml]'"
_SHAPES_FIX = (
    "expectations.expected_facts is a list of strings, guidelines a string or a list of them, "
    'expected_tool_calls a list of {"name": ...} objects, tags a list of names or a mapping'
)
_INPUTS_FIX = 'every case needs an "inputs" object, e.g. {"inputs": {"question": "..."}}'


def load_dataset(
    source: DatasetSource, *, id_field: str = "id", base: Path | None = None
) -> list[Case]:
    """Every case of a dataset, in its order.

    `source` is a file path (`.jsonl`, `.json`, `.csv`, `.yaml` / `.yml`; relative paths count
    from `base`, by default the working directory), an iterable of rows (dicts in MLflow's
    evaluation shape, or `Case`s) or a callable returning one. A row's id is its `id_field`
    value, or a stable digest of its inputs and expectations. Raises `DatasetError`.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_absolute() and base is not None:
            path = base / path
        return build_cases(read_file(path, id_field), str(source), id_field)
    name = getattr(source, "__name__", None) or type(source).__name__
    if callable(source):
        try:
            produced = source()
        except Exception as exc:
            raise DatasetError(
                f"dataset {name}()",
                f"raised {type(exc).__name__}: {exc}",
                fix="fix the function, or give the cases as a list or a file",
            ) from exc
        return build_cases(_numbered(produced, f"dataset {name}()"), f"dataset {name}()", id_field)
    return build_cases(_numbered(source, f"dataset {name}"), f"dataset {name}", id_field)


def _numbered(rows: Any, source: str) -> Iterator[Row]:
    if isinstance(rows, (str, bytes, dict)) or not isinstance(rows, Iterable):
        raise DatasetError(
            source,
            f"expected an iterable of cases, got {type(rows).__name__}",
            fix="return a list of case dicts (or Case objects)",
        )
    iterator = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # a generator that fails while producing its cases
            raise DatasetError(
                source,
                f"raised {type(exc).__name__}: {exc}",
                fix="fix the code that produces the cases",
            ) from exc
        yield None, row


def build_cases(rows: Iterable[Row], source: str, id_field: str = "id") -> list[Case]:
    """Cases from raw rows, checked: ids unique, at least one case."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for index, (line, row) in enumerate(rows):
        case = to_case(row, source, line, index, id_field)
        if case.id in seen:
            raise DatasetError(
                source,
                f"duplicate case id {case.id!r} (first {seen[case.id]})",
                line=line,
                case=case.id,
                fix="give every case its own id",
                item=None if line is not None else index,
            )
        seen[case.id] = f"on line {line}" if line is not None else f"as item {index}"
        cases.append(case)
    if not cases:
        raise DatasetError(source, "the dataset has no cases", fix="add at least one case")
    return cases


def to_case(row: Any, source: str, line: int | None, index: int, id_field: str) -> Case:
    """One row as a `Case`, or a `DatasetError` saying where and why not."""
    if isinstance(row, Case):
        return row
    item = None if line is not None else index
    if not isinstance(row, dict):
        raise DatasetError(
            source,
            f"a case must be an object, got {type(row).__name__}",
            line=line,
            fix=_INPUTS_FIX,
            item=item,
        )
    raw_id = row.get(id_field)
    case_id = str(raw_id) if raw_id not in (None, "") else content_id(row)
    if "inputs" not in row:
        raise DatasetError(
            source, "missing 'inputs'", line=line, case=case_id, fix=_INPUTS_FIX, item=item
        )
    if not isinstance(row["inputs"], dict):
        raise DatasetError(
            source,
            f"'inputs' must be an object, got {type(row['inputs']).__name__}",
            line=line,
            case=case_id,
            fix=_INPUTS_FIX,
            item=item,
        )
    allowed = {*ROW_FIELDS, id_field}
    unknown = sorted(k for k in row if k not in allowed)
    if unknown:
        raise DatasetError(
            source,
            f"unknown field {unknown[0]!r}",
            line=line,
            case=case_id,
            fix=f"a case has {', '.join(repr(f) for f in ROW_FIELDS)} (put other data in "
            "'metadata')",
            item=item,
        )
    fields = {k: v for k, v in row.items() if k in ROW_FIELDS and k != "id" and v is not None}
    try:
        return Case(id=case_id, **fields)
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise DatasetError(
            source, problem, line=line, case=case_id, fix=_SHAPES_FIX, item=item
        ) from None


# -- files --------------------------------------------------------------------------------------


def read_file(path: Path, id_field: str = "id") -> Iterator[Row]:
    """The raw rows of a dataset file, with their line numbers."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DatasetError(
            str(path),
            f"unknown dataset format {suffix or '(no extension)'!r}",
            fix=f"use one of {', '.join(FORMATS)}",
        )
    if not path.is_file():
        raise DatasetError(
            str(path),
            "no such file",
            fix="check the path (relative paths count "
            "from the test file's folder, then the rootdir)",
        )
    if suffix == ".jsonl":
        return _jsonl(path)
    if suffix == ".json":
        return _json(path)
    if suffix == ".csv":
        return _csv(path, id_field)
    return _yaml(path)


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                raise DatasetError(
                    str(path),
                    f"not valid JSON: {exc}",
                    line=number,
                    fix="each line must be one JSON object",
                ) from None
            yield number, row


def _json(path: Path) -> Iterator[Row]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            str(path),
            f"not valid JSON: {exc.msg}",
            line=exc.lineno,
            fix="correct the JSON syntax there (a missing comma or quote is common)",
        ) from None
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        start = text.index("[", _key_offset(text, "cases"))
    elif isinstance(data, list):
        start = text.index("[")
    else:
        raise DatasetError(
            str(path),
            "expected a list of cases, or an object with a 'cases' list",
            fix='write [{"inputs": {...}}, ...] or {"cases": [...]}',
        )
    yield from _array_items(text, start)


def _key_offset(text: str, key: str) -> int:
    """Where the value of the top-level `key` starts (its last occurrence, as `json.loads`
    keeps the last of repeated keys)."""
    decoder = json.JSONDecoder()
    position = _skip(text, text.index("{") + 1, "")
    found = -1
    while position < len(text) and text[position] != "}":
        name, position = decoder.raw_decode(text, position)
        position = _skip(text, position, ":")
        if name == key:
            found = position
        _, position = decoder.raw_decode(text, position)
        position = _skip(text, position, ",")
    return found


def _array_items(text: str, start: int) -> Iterator[Row]:
    """Each element of the JSON array at `start`, with the line it starts on."""
    decoder = json.JSONDecoder()
    position = _skip(text, start + 1, "")
    while text[position] != "]":
        line = text.count("\n", 0, position) + 1
        item, position = decoder.raw_decode(text, position)
        yield line, item
        position = _skip(text, position, ",")


def _skip(text: str, position: int, separator: str) -> int:
    while position < len(text) and (text[position].isspace() or text[position] in separator):
        position += 1
    return position


def _csv(path: Path, id_field: str = "id") -> Iterator[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            return
        ended = reader.line_num  # the header's last line
        for record in reader:
            start = ended + 1  # a quoted cell may span lines: the record starts after the last
            ended = reader.line_num
            yield start, _csv_row(record, str(path), start, id_field)


def _csv_row(
    record: dict[str, str | None], source: str, line: int, id_field: str = "id"
) -> dict[str, Any]:
    """A CSV record as a row: `inputs.x` / `expectations.x` / `metadata.x` columns nest, `id`,
    `tags` and whole-object `inputs` / `expectations` / `metadata` columns are taken as they
    are, any other column is an input. Cells starting with `[` or `{` are JSON."""
    row: dict[str, Any] = {}
    for column, cell in record.items():
        if column is None or cell is None or cell == "":
            continue
        value = _cell(cell, source, line, column)
        if column in ("id", id_field):
            row[column] = cell
        elif column == "tags":
            row["tags"] = value if not isinstance(value, str) else _split_tags(value)
        elif column in ("inputs", "expectations", "metadata"):
            if not isinstance(value, dict):
                raise DatasetError(
                    source,
                    f"column {column!r} must hold a JSON object, got {cell[:40]!r}",
                    line=line,
                    fix=f"write it as {{...}}, or use {column}.<name> columns",
                )
            row.setdefault(column, {}).update(value)
        else:
            section, dot, key = column.partition(".")
            if not (dot and section in ("inputs", "expectations", "metadata")):
                section, key = "inputs", column
            row.setdefault(section, {})[key] = value
    return row


def _cell(cell: str, source: str, line: int, column: str) -> Any:
    if cell.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(cell)
        except ValueError as exc:
            raise DatasetError(
                source,
                f"column {column!r} holds invalid JSON: {exc}",
                line=line,
                fix="write lists and objects as JSON, or start the text with another character",
            ) from None
    return cell


def _split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


def _yaml(path: Path) -> Iterator[Row]:
    try:
        import yaml
    except ImportError:
        raise DatasetError(
            str(path), "YAML datasets need PyYAML, which is not installed", fix=YAML_HINT
        ) from None
    text = path.read_text(encoding="utf-8-sig")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DatasetError(
            str(path),
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            line=mark.line + 1 if mark is not None else None,
            fix="correct the YAML there; only plain YAML is read (no !!python tags)",
        ) from None
    items_node = node
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        items_node = [v for k, v in node.value if k.value == "cases"][-1]  # the last wins
        data = data["cases"]
    elif not isinstance(data, list):
        raise DatasetError(
            str(path),
            "expected a list of cases, or a mapping with a 'cases' list",
            fix="start the file with '- inputs: ...' items, or 'cases:'",
        )
    for item_node, row in zip(items_node.value, data, strict=True):
        yield item_node.start_mark.line + 1, row
