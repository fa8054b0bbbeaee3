"""The prompt directory: `prompts/<name>/v<N>.<ext>` files, `aliases.yaml`, and `load_prompt`.

Files are read on first use and kept while their size and modification time stay the same, so
loading a prompt in every test costs a few `stat` calls. Nothing here is read when a run never
loads a prompt.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from pytest_genai.current import prompt_dirs
from pytest_genai.errors import PromptError
from pytest_genai.prompts.model import Prompt
from pytest_genai.prompts.template import Template, TemplateError

NAME = re.compile(r"[a-zA-Z0-9_.-]+")
VERSION_FILE = re.compile(r"v(\d+)\.([A-Za-z0-9]+)")
TEXT_EXTENSIONS = ("txt", "md")
YAML_EXTENSIONS = ("yaml", "yml")
ALIASES_FILE = "aliases.yaml"
LOCK_FILE = "prompts.lock"
LATEST = "latest"
YAML_KEYS = ("template", "messages", "description", "model_config", "response_format", "tags")
YAML_KEYS_ALL = (*YAML_KEYS, "metadata")


def check_name(name: str, what: str = "prompt name") -> str:
    """`name` if it can name a prompt (or alias): letters, digits, `_`, `.`, `-`; never a path."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in (".", ".."):
        shown = repr(name)
        why = (
            "it is a path"
            if isinstance(name, str) and ("/" in name or "\\" in name or ".." in name)
            else "it has other characters"
        )
        raise PromptError(
            f"{shown} is not a valid {what}: {why}",
            fix="use letters, digits, '_', '.' and '-' only (no '/', '\\' or '..')",
        )
    if ".." in name:
        raise PromptError(
            f"{name!r} is not a valid {what}: it contains '..'", fix="rename it without '..'"
        )
    return name


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """`(name, version, alias)` of a reference: `name`, `name@3`, `name@alias`, or MLflow's
    `prompts:/name/3` and `prompts:/name@alias`. Neither version nor alias: the latest."""
    if not isinstance(ref, str) or not ref.strip():
        raise PromptError(f"{ref!r} is not a prompt reference", fix=_REF_HELP)
    text = ref.strip()
    if text.startswith("prompts:/"):
        body = text[len("prompts:/") :]
        name, slash, version = body.partition("/")
        if slash:
            if not version.isdigit() or "@" in name:
                raise PromptError(f"{ref!r} is not a prompt reference", fix=_REF_HELP)
            return check_name(name), _version_number(version, ref), None
        text = body
    name, at, selector = text.partition("@")
    check_name(name)
    if not at:
        return name, None, None
    if re.fullmatch(r"v?\d+", selector):
        return name, _version_number(selector.lstrip("v"), ref), None
    check_name(selector, "alias")
    return name, None, None if selector == LATEST else selector


_REF_HELP = "write 'name', 'name@3', 'name@alias', 'prompts:/name/3' or 'prompts:/name@alias'"


def _version_number(text: str, ref: str) -> int:
    version = int(text)
    if version < 1:
        raise PromptError(f"{ref!r}: versions start at 1", fix=_REF_HELP)
    return version


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Cached:
    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class PromptStore:
    """One prompt directory. `load(ref)` returns a `Prompt`; `check_lock` says whether a
    locked version may be loaded after its file changed (it may not, in a test run)."""

    def __init__(self, root: Path, *, check_lock: bool = False) -> None:
        self.root = Path(root)
        self.check_lock = check_lock
        self._listings: dict[str, _Cached] = {}
        self._files: dict[Path, _Cached] = {}
        self._aliases: dict[str, _Cached] = {}
        self._lock: _Cached | None = None

    # -- what exists --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every prompt in the directory (folders with a valid name)."""
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError:
            return []
        return [
            e.name
            for e in entries
            if e.is_dir() and NAME.fullmatch(e.name) and not e.name.startswith(".")
        ]

    def versions(self, name: str) -> dict[int, Path]:
        """The files of each version of `name`, by version number."""
        folder = self.root / check_name(name)
        key = _stat_key(folder)
        cached = self._listings.get(name)
        if cached is not None and cached.key == key:
            return cached.value
        if key is None or not folder.is_dir():
            raise PromptError(
                f"no prompt named {name!r} in {self._shown_root()}",
                fix=self._known_names_hint(),
            )
        found: dict[int, Path] = {}
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            match = VERSION_FILE.fullmatch(entry.name)
            if match is None or not entry.is_file():
                continue
            version, ext = int(match.group(1)), match.group(2)
            path = Path(entry.path)
            if ext not in TEXT_EXTENSIONS + YAML_EXTENSIONS:
                raise PromptError(
                    f"unsupported prompt file extension '.{ext}'",
                    source=str(path),
                    fix="use .txt or .md for a text template, .yaml for a chat template or "
                    "metadata",
                )
            if version < 1:
                raise PromptError("versions start at 1", source=str(path), fix="rename it v1")
            if version in found:
                raise PromptError(
                    f"two files for version {version}: {found[version].name} and {entry.name}",
                    source=str(folder),
                    fix="keep one file per version",
                )
            found[version] = path
        self._listings[name] = _Cached(key, found)
        return found

    def aliases(self, name: str) -> dict[str, int]:
        """`aliases.yaml` of `name`: alias -> version (empty when there is no file)."""
        path = self.root / check_name(name) / ALIASES_FILE
        key = _stat_key(path)
        cached = self._aliases.get(name)
        if cached is not None and cached.key == key:
            return cached.value
        value = {} if key is None else _read_aliases(path, set(self.versions(name)))
        self._aliases[name] = _Cached(key, value)
        return value

    # -- loading ------------------------------------------------------------------------------

    def load(self, ref: str, version: int | str | None = None) -> Prompt:
        """The prompt `ref` points at (see `load_prompt`)."""
        name, number, alias = parse_ref(ref)
        if version is not None:
            if number is not None or alias is not None or "@" in ref or ref.count("/") > 1:
                raise PromptError(
                    f"{ref!r} already names a version or alias; don't pass version= too"
                )
            _, number, alias = parse_ref(f"{name}@{version}")
        versions = self.versions(name)
        if not versions:
            raise PromptError(
                f"prompt {name!r} has no version files",
                source=str(self.root / name),
                fix="add v1.txt, v1.md or v1.yaml",
            )
        if alias is not None:
            aliases = self.aliases(name)
            if alias not in aliases:
                known = ", ".join(sorted(aliases)) or "none"
                raise PromptError(
                    f"prompt {name!r} has no alias {alias!r} (its aliases: {known}; "
                    f"'{LATEST}' is the newest version)",
                    source=str(self.root / name / ALIASES_FILE),
                )
            number = aliases[alias]
        elif number is None:
            number = max(versions)
        path = versions.get(number)
        if path is None:
            have = ", ".join(f"v{v}" for v in sorted(versions))
            raise PromptError(f"prompt {name!r} has no version {number} (it has {have})")
        prompt = self._read(name, number, path)
        if self.check_lock:
            self._check_locked(prompt, max(versions))
        return prompt.with_alias(alias)

    def _read(self, name: str, version: int, path: Path) -> Prompt:
        key = _stat_key(path)
        cached = self._files.get(path)
        if cached is not None and cached.key == key:
            return cached.value
        data = path.read_bytes()
        prompt = parse_prompt_file(path, name, version, data)
        self._files[path] = _Cached(key, prompt)
        return prompt

    # -- the lock -----------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    def locked(self) -> dict[tuple[str, int], str]:
        """`prompts.lock`: (name, version) -> digest (empty when there is none)."""
        from pytest_genai.prompts.lock import read_lock

        key = _stat_key(self.lock_path)
        if self._lock is not None and self._lock.key == key:
            return self._lock.value
        value = {} if key is None else read_lock(self.lock_path)
        self._lock = _Cached(key, value)
        return value

    def _check_locked(self, prompt: Prompt, newest: int) -> None:
        from pytest_genai.prompts.lock import changed_message

        digest = self.locked().get((prompt.name, prompt.version))
        if digest is not None and digest != prompt.digest:
            raise PromptError(
                changed_message(prompt.name, prompt.version, newest),
                source=str(prompt.path),
            )

    # -- messages -----------------------------------------------------------------------------

    def _shown_root(self) -> str:
        return str(self.root)

    def _known_names_hint(self) -> str:
        if not self.root.is_dir():
            return (
                f"the prompt directory {self.root} does not exist: create it, or set "
                "genai_prompts_dir"
            )
        names = self.names()
        return f"prompts there: {', '.join(names)}" if names else "the directory has no prompts"


def parse_prompt_file(path: Path, name: str, version: int, data: bytes) -> Prompt:
    """A `Prompt` from one version file's bytes; `PromptError` names the file and line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PromptError("not UTF-8 text", source=str(path), line=line) from None
    digest = digest_of(data)
    ext = path.suffix[1:]
    if ext in TEXT_EXTENSIONS:
        try:
            parts: Any = Template(text)
        except TemplateError as exc:
            raise PromptError(exc.problem, source=str(path), line=exc.line) from None
        return Prompt(
            name=name, version=version, template=text, digest=digest, path=path, _parts=parts
        )
    return _parse_yaml_prompt(path, name, version, text, digest)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - litellm depends on PyYAML
        raise PromptError(
            "reading YAML prompt files needs PyYAML", fix="pip install 'pytest-genai[yaml]'"
        ) from None
    return yaml


def _load_yaml(path: Path, text: str) -> tuple[Any, Any]:
    """The file's data and its node tree (for line numbers), parsed once and safely (libyaml's
    loader where PyYAML has it)."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise PromptError(f"invalid YAML: {problem}", source=str(path), line=line) from None
    finally:
        loader.dispose()
    return data, node


def _child(node: Any, key: str | int) -> Any:
    """The node under `key` in a composed YAML node (a mapping key or a list index), or None."""
    if node is None:
        return None
    if isinstance(key, int):
        return node.value[key] if node.id == "sequence" and key < len(node.value) else None
    if node.id == "mapping":
        return next((v for k, v in node.value if k.value == str(key)), None)
    return None


def _line_of(node: Any, *keys: str | int) -> int | None:
    """The 1-based line of the value at `keys` in a composed YAML node, as far as it exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        node = _child(node, key)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _parse_yaml_prompt(path: Path, name: str, version: int, text: str, digest: str) -> Prompt:
    data, node = _load_yaml(path, text)
    source = str(path)
    if isinstance(data, list):
        data, node_keys = {"messages": data}, ()
    elif isinstance(data, dict):
        node_keys = None
    else:
        raise PromptError(
            "expected a mapping with 'template' or 'messages', or a list of messages",
            source=source,
            line=1,
        )

    def keys_in_file(*keys: str | int) -> tuple[str | int, ...]:
        return keys[1:] if node_keys == () else keys  # the file may be the message list itself

    def line(*keys: str | int) -> int | None:
        return _line_of(node, *keys_in_file(*keys))

    def scalar(*keys: str | int) -> Any:
        found = node
        for key in keys_in_file(*keys):
            found = _child(found, key)
        return found

    unknown = [k for k in data if k not in YAML_KEYS_ALL]
    if unknown:
        raise PromptError(
            f"unknown key {unknown[0]!r}",
            source=source,
            line=line(unknown[0]),
            fix=f"use {', '.join(YAML_KEYS_ALL)} (free-form data goes under 'metadata')",
        )
    has_template, has_messages = "template" in data, "messages" in data
    if has_template == has_messages:
        raise PromptError(
            "give exactly one of 'template' (a text, or a list of messages) and 'messages'",
            source=source,
            line=1,
        )
    key = "template" if has_template else "messages"
    template = data[key]
    parts: Any
    if isinstance(template, str):
        if key == "messages":
            raise PromptError("'messages' must be a list", source=source, line=line(key))
        parts = _parse_template(template, source, text, scalar(key))
    elif isinstance(template, list) and template:
        messages: list[dict[str, str]] = []
        parts = []
        for i, message in enumerate(template):
            if (
                not isinstance(message, dict)
                or set(message) != {"role", "content"}
                or not all(isinstance(v, str) for v in message.values())
            ):
                raise PromptError(
                    f"message {i + 1} must be a mapping of 'role' and 'content' texts",
                    source=source,
                    line=line(key, i),
                )
            messages.append({"role": message["role"], "content": message["content"]})
            part = _parse_template(message["content"], source, text, scalar(key, i, "content"))
            parts.append((message["role"], part))
        template = messages
    else:
        raise PromptError(
            "'messages' must be a non-empty list of messages"
            if key == "messages"
            else "'template' must be a text or a non-empty list of messages",
            source=source,
            line=line(key),
        )
    metadata: dict[str, Any] = {k: data[k] for k in YAML_KEYS if k in data and k != key}
    extra = data.get("metadata")
    if extra is not None and not isinstance(extra, dict):
        raise PromptError("'metadata' must be a mapping", source=source, line=line("metadata"))
    if extra:
        metadata["metadata"] = extra
    for field, kind in (("tags", dict), ("model_config", dict), ("description", str)):
        if field in metadata and not isinstance(metadata[field], kind):
            raise PromptError(
                f"{field!r} must be a {'mapping' if kind is dict else 'text'}",
                source=source,
                line=line(field),
            )
    return Prompt(
        name=name,
        version=version,
        template=template,
        digest=digest,
        path=path,
        metadata=metadata,
        _parts=parts,
    )


def _parse_template(text: str, source: str, file_text: str, scalar: Any) -> Template:
    """The template of one YAML scalar; an error names the file line of the `{{` at fault,
    found in the scalar's raw text (so quoting, `|` and `>` styles all map right)."""
    try:
        return Template(text)
    except TemplateError as exc:
        line = None
        if scalar is not None:
            raw = file_text[scalar.start_mark.index : scalar.end_mark.index]
            position = -1
            for _ in range(exc.opener + 1):
                position = raw.find("{{", position + 1)
                if position < 0:
                    break
            line = (
                scalar.start_mark.line + 1 + (raw.count("\n", 0, position) if position >= 0 else 0)
            )
        raise PromptError(exc.problem, source=source, line=line) from None


def _read_aliases(path: Path, versions: set[int]) -> dict[str, int]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError("not UTF-8 text", source=str(path), fix=f"({exc.reason})") from None
    data, node = _load_yaml(path, text)
    source = str(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PromptError(
            "expected a mapping of alias to version, such as 'production: 3'",
            source=source,
            line=1,
        )
    aliases: dict[str, int] = {}
    for alias, value in data.items():
        line = _line_of(node, alias) if isinstance(alias, (str, int)) else None
        if not isinstance(alias, str) or not NAME.fullmatch(alias) or alias.isdigit():
            raise PromptError(
                f"{alias!r} is not a valid alias",
                source=source,
                line=line,
                fix="use letters, digits, '_', '.' and '-', not only digits",
            )
        if alias == LATEST:
            raise PromptError(
                f"'{LATEST}' is reserved for the newest version",
                source=source,
                line=line,
                fix="choose another alias",
            )
        number = value
        if isinstance(value, str) and re.fullmatch(r"v?\d+", value.strip()):
            number = int(value.strip().lstrip("v"))
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise PromptError(
                f"alias {alias!r}: {value!r} is not a version number",
                source=source,
                line=line,
                fix=f"write '{alias}: 3'",
            )
        if number not in versions:
            have = ", ".join(f"v{v}" for v in sorted(versions)) or "none"
            raise PromptError(
                f"alias {alias!r} points to v{number}, which does not exist (versions: {have})",
                source=source,
                line=line,
            )
        aliases[alias] = number
    return aliases


# -- which directory ------------------------------------------------------------------------

_stores: dict[tuple[Path, bool], PromptStore] = {}


def store_for(root: Path | str | None = None) -> PromptStore:
    """The store of `root`, else of the running pytest session's `genai_prompts_dir`, else of
    `$GENAI_PROMPTS_DIR`, else `./prompts`."""
    check_lock = False
    if root is None:
        if prompt_dirs:
            root, check_lock = prompt_dirs[-1]
        else:
            root = os.environ.get("GENAI_PROMPTS_DIR") or "prompts"
    path = Path(root).absolute()
    if prompt_dirs and path == Path(prompt_dirs[-1][0]).absolute():
        check_lock = prompt_dirs[-1][1]  # the run's directory, however it was named
    store = _stores.get((path, check_lock))
    if store is None:
        store = _stores[(path, check_lock)] = PromptStore(path, check_lock=check_lock)
    return store


def load_prompt(
    ref: str, version: int | str | None = None, *, prompts_dir: Path | str | None = None
) -> Prompt:
    """Load one version of a prompt from the prompt directory.

    `ref` is `name` (the newest version), `name@3`, `name@alias` (from the prompt's
    `aliases.yaml`; `name@latest` is the newest), or MLflow's `prompts:/name/3` and
    `prompts:/name@alias`; `version=` may give the version or alias apart. The directory is
    `prompts_dir`, else the test run's `genai_prompts_dir` (default `prompts/` under the
    rootdir). In a test run a version recorded in `prompts.lock` must still match its digest.
    Raises `PromptError` saying what exists when the prompt, version or alias does not.
    """
    prompt = store_for(prompts_dir).load(ref, version)
    from pytest_genai.prompts.lineage import note_use

    note_use(prompt)
    return prompt
