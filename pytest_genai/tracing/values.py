"""Span values: JSON-safe, truncated and with secrets masked, cheaply for plain values; and
retrieved documents in MLflow's shape."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from pytest_genai.secrets import SECRET_FIELD

_redactor: tuple[Any, Any] | None = None  # (what it was made for, the Redactor)


def redactor() -> Any:
    """A `Redactor`, made again for each test and whenever a variable is added or removed
    (it reads the environment's secret values when made)."""
    global _redactor
    from pytest_genai.current import current_item

    key = (current_item(), len(os.environ))
    cached = _redactor
    if cached is None or cached[0] != key:
        from pytest_genai.secrets import Redactor

        cached = (key, Redactor())
        _redactor = cached
    return cached[1]


_SCALARS = (str, int, float, bool, type(None))
_to_json = json.JSONEncoder(ensure_ascii=False).encode
_safe_keys: set[str] = set()
"""Mapping keys already seen not to look like secrets (checked once each, not per span)."""


def _safe_key(key: Any) -> bool:
    if key in _safe_keys:
        return True
    if type(key) is not str or SECRET_FIELD.match(key):
        return False
    if len(_safe_keys) < 10_000:
        _safe_keys.add(key)
    return True


def _plain(value: Any, max_chars: int) -> bool:
    """A scalar, or a flat dict / list of scalars, that JSON holds as it is: no truncation, no
    secret-named key, nothing to convert (then encoding is one `json.dumps`)."""
    kind = type(value)
    if kind is str:
        return len(value) <= max_chars
    if kind is float:
        return math.isfinite(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        if len(value) > 50:
            return False
        for key, item in value.items():
            if not _safe_key(key):
                return False
            item_kind = type(item)
            if item_kind not in _SCALARS or (item_kind is str and len(item) > max_chars):
                return False
            if item_kind is float and not math.isfinite(item):
                return False
        return True
    if kind is list or kind is tuple:
        if len(value) > 50:
            return False
        return all(
            type(item) in _SCALARS
            and (type(item) is not str or len(item) <= max_chars)
            and (type(item) is not float or math.isfinite(item))
            for item in value
        )
    return False


def encode(value: Any, max_chars: int) -> str:
    """A value as the JSON text of a span attribute: JSON-safe, truncated, secrets masked."""
    if _plain(value, max_chars):
        return redactor()(_to_json(value))
    from pytest_genai.results import json_safe

    return json.dumps(json_safe(value, max_chars, redactor()), ensure_ascii=False)


def attribute_value(value: Any, max_chars: int) -> Any:
    """A value an OTel attribute can hold: text truncated with secrets masked, primitives and
    lists of them as they are, anything else as JSON text."""
    if isinstance(value, str):
        from pytest_genai.results import truncate_text

        return redactor()(truncate_text(value, max_chars))
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, bool, int, float)) for v in value
    ):
        return [attribute_value(v, max_chars) for v in value]
    return encode(value, max_chars)


_DOCUMENT_FIELDS = ("page_content", "content", "text", "metadata")


def documents(value: Any) -> Any:
    """Retrieved documents in MLflow's shape, from strings, dicts or document objects
    (anything with `page_content` / `metadata`, such as LangChain's `Document`)."""
    if not isinstance(value, (list, tuple)):
        return value
    shaped = []
    for item in value:
        if isinstance(item, str):
            shaped.append({"page_content": item, "metadata": {}})
            continue
        if isinstance(item, Mapping):
            content = next(
                (item[k] for k in ("page_content", "content", "text") if k in item), None
            )
            metadata = dict(item.get("metadata") or {})
            extra = {k: v for k, v in item.items() if k not in _DOCUMENT_FIELDS}
        else:
            content = getattr(item, "page_content", None)
            metadata = dict(getattr(item, "metadata", None) or {})
            extra = {}
        if content is None:
            return value  # not documents: keep as given
        for key in ("doc_uri", "id", "uri", "source", "url"):
            if key in extra and "doc_uri" not in metadata:
                metadata["doc_uri"] = extra.pop(key)
        if "doc_uri" not in metadata:
            for key in ("source", "id", "uri", "url"):
                if key in metadata:
                    metadata["doc_uri"] = metadata[key]
                    break
        metadata.update(extra)
        shaped.append({"page_content": content, "metadata": metadata})
    return shaped
