"""`Prompt`: one version of a prompt from the prompt directory, and what `format` returns."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_genai.prompts.template import Template, resolve


class PromptFormatError(ValueError):
    """`Prompt.format` was given too few or unexpected variables."""


class RenderedText(str):
    """A text prompt after `format`: a plain `str` that remembers the `Prompt` it came from
    (so `prompt_snapshot` can name its snapshot file after the prompt and version)."""

    __slots__ = ("prompt",)
    prompt: Prompt


class RenderedMessages(list):  # type: ignore[type-arg]
    """A chat prompt after `format`: a list of `{"role": ..., "content": ...}` messages that
    remembers the `Prompt` it came from."""

    prompt: Prompt


class Prompt:
    """One version of a prompt: `load_prompt("greeting@production")` returns it.

    `template` is the text of a text prompt, or the list of `{"role", "content"}` messages of
    a chat prompt; `variables` the names its `{{ ... }}` placeholders use, in order of first
    use. `digest` is the sha256 of the file's bytes (what `prompts.lock` records); `alias` the
    alias it was loaded through, if any. `metadata` holds the YAML file's other keys
    (`description`, `model_config`, `response_format`, `tags`, `metadata`).
    """

    __slots__ = (
        "_parts",
        "alias",
        "digest",
        "metadata",
        "name",
        "path",
        "template",
        "variables",
        "version",
    )

    def __init__(
        self,
        *,
        name: str,
        version: int,
        template: str | list[dict[str, str]],
        digest: str,
        path: Path | None = None,
        metadata: Mapping[str, Any] | None = None,
        alias: str | None = None,
        _parts: list[tuple[str, Template]] | Template | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.template = template
        self.digest = digest
        self.path = path
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.alias = alias
        if _parts is None:
            _parts = (
                Template(template)
                if isinstance(template, str)
                else [(m["role"], Template(m["content"])) for m in template]
            )
        self._parts = _parts
        if isinstance(_parts, Template):
            self.variables: list[str] = list(_parts.variables)
        else:
            names = (name for _, part in _parts for name in part.variables)
            self.variables = list(dict.fromkeys(names))

    @property
    def is_chat(self) -> bool:
        """Whether this is a chat prompt (a list of messages) rather than a text."""
        return not isinstance(self.template, str)

    @property
    def uri(self) -> str:
        """MLflow's URI of this version: `prompts:/name/3`."""
        return f"prompts:/{self.name}/{self.version}"

    @property
    def description(self) -> str | None:
        return self.metadata.get("description")

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self.metadata.get("tags") or {})

    @property
    def model_config(self) -> dict[str, Any]:
        """Model settings stored with the prompt (`model`, `temperature`, ...)."""
        return dict(self.metadata.get("model_config") or {})

    @property
    def response_format(self) -> Any:
        return self.metadata.get("response_format")

    def with_alias(self, alias: str | None) -> Prompt:
        """The same version, as loaded through `alias`."""
        if alias == self.alias:
            return self
        return Prompt(
            name=self.name,
            version=self.version,
            template=self.template,
            digest=self.digest,
            path=self.path,
            metadata=self.metadata,
            alias=alias,
            _parts=self._parts,
        )

    def format(self, /, **variables: Any) -> RenderedText | RenderedMessages:
        """Fill the template: every variable must be given, and nothing else.

        Dotted variables (`{{ user.name }}`) look up the key `"user.name"` first, then walk
        `user` by key, attribute or list index. Returns the text, or for a chat prompt a list
        of `{"role", "content"}` messages. Raises `PromptFormatError` naming the missing or
        unexpected variables; `render(..., allow_unexpected=True)` accepts extra ones.
        """
        return self.render(variables)

    def render(
        self, variables: Mapping[str, Any], *, allow_unexpected: bool = False
    ) -> RenderedText | RenderedMessages:
        """`format` with the variables in a mapping; `allow_unexpected` ignores names the
        template does not use (a shared context passed to several prompts)."""
        texts, missing, unexpected = resolve(tuple(self.variables), variables)
        if missing or (unexpected and not allow_unexpected):
            raise PromptFormatError(self._format_problem(missing, unexpected, allow_unexpected))
        from pytest_genai.prompts.lineage import note_use

        note_use(self)
        parts = self._parts
        if isinstance(parts, Template):
            text = RenderedText(parts.render(texts))
            text.prompt = self
            return text
        messages = RenderedMessages(
            {"role": role, "content": part.render(texts)} for role, part in parts
        )
        messages.prompt = self
        return messages

    def _format_problem(
        self, missing: list[str], unexpected: list[str], allow_unexpected: bool
    ) -> str:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unexpected and not allow_unexpected:
            problems.append("unexpected " + ", ".join(unexpected))
        wanted = ", ".join(self.variables) or "none"
        fix = (
            "; pass every variable, or use render(variables, allow_unexpected=True) to ignore "
            "extra ones"
            if unexpected and not allow_unexpected
            else ""
        )
        return (
            f"prompt {self.name} v{self.version}: {' and '.join(problems)} "
            f"(its variables: {wanted}){fix}"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prompt):
            return NotImplemented
        return (self.name, self.version, self.digest, self.alias) == (
            other.name,
            other.version,
            other.digest,
            other.alias,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.digest))

    def __repr__(self) -> str:
        alias = f", alias={self.alias!r}" if self.alias else ""
        return f"Prompt(name={self.name!r}, version={self.version}{alias})"
