"""Keeping credentials out of everything we write: messages, raw replies, reports, logs."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|^AUTH", re.I)
SECRET_FIELD = re.compile(
    r"(?i)^(authorization|proxy[-_]authorization|x[-_]api[-_]key|api[-_]?key|.*[-_](key|token)|"
    r"token|secret|.*[-_]secret|password|passwd|cookie|set[-_]cookie)$"
)
"""Names of mapping keys (headers, settings) whose values are masked whatever they hold."""


def secret_key(name: str) -> bool:
    """A key or attribute named like a credential, whole or in its last dotted part
    (`api_key`, `llm.password`, `http.request.header.authorization`)."""
    return bool(SECRET_FIELD.match(name) or SECRET_FIELD.match(name.rsplit(".", 1)[-1]))


_PATTERNS = (
    # Authorization: Bearer xyz / api_key="xyz" / api-key: xyz
    re.compile(r"(?i)((?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?i)(api[-_]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
    # credentials in URLs: scheme://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s/@]+(?=@)"),
)
_KEY_SHAPE = re.compile(r"\b(?:sk|pk|rk|xox[abp]|ghp|gho|hf)[-_][A-Za-z0-9_\-]{16,}")
_MAYBE = re.compile(r"(?i)bearer|basic|key|://|\b(?:sk|pk|rk|xox[abp]|ghp|gho|hf)[-_]")
"""Text none of the patterns can match is left alone after one search (the common case)."""
MASK = "***"


class Redactor:
    """Masks secrets in text: values of secret-named environment variables (8+ characters),
    bearer tokens, `api_key=...`, credentials in URLs and key-shaped tokens (`sk-...`).

    Made once per batch of text: it reads the environment when made.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        if environ is None:
            values = {v for k in _secret_names() if len(v := os.environ.get(k) or "") >= 8}
        else:
            values = {v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}
        self.values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        if _MAYBE.search(text) is None:
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return _KEY_SHAPE.sub(MASK, text)


_names: list[tuple[int, list[str]]] = []


def _secret_names() -> list[str]:
    """Names of secret-looking environment variables; rescanned when a variable is added or
    removed (values are always read fresh, so a changed key is masked at once)."""
    size = len(os.environ)
    if not _names or _names[0][0] != size:
        _names[:] = [(size, [k for k in os.environ if _SECRET_NAME.search(k)])]
    return _names[0][1]


def redact(text: str) -> str:
    """`text` with secrets masked (see `Redactor`)."""
    return Redactor()(text)
