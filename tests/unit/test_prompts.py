"""The prompts package: `{{ var }}` templates, `Prompt`, the prompt directory (`load_prompt`,
refs, aliases, caching and every bad input), `prompts.lock`, the pure parts of the snapshot
comparators, and lineage on the running test and the current span."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pytest_genai import current
from pytest_genai.current import PROMPTS_KEY
from pytest_genai.errors import PromptError
from pytest_genai.prompts import lineage, lock
from pytest_genai.prompts import store as store_module
from pytest_genai.prompts.lineage import note_use
from pytest_genai.prompts.model import (
    Prompt,
    PromptFormatError,
    RenderedMessages,
    RenderedText,
)
from pytest_genai.prompts.snapshots import (
    Comparison,
    _prompt_index,
    comparator,
    exact,
    judge_equivalence,
    messages_text,
    output_text,
    whitespace,
)
from pytest_genai.prompts.store import (
    PromptStore,
    check_name,
    digest_of,
    load_prompt,
    parse_ref,
    store_for,
)
from pytest_genai.prompts.template import _MISSING, Template, TemplateError, lookup, resolve
from pytest_genai.results import PromptUse

# -- helpers ------------------------------------------------------------------------------------


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bump_mtime(path: Path) -> None:
    """Move the file's modification time a second on, whatever the clock's resolution."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


V1_TXT = "Hello {{ name }}!\n"
V2_MD = "# Greeting\n\nHi {{ name }}, welcome to {{ place }}.\n"
V3_YAML = """\
description: Friendly greeting
model_config:
  model: gpt-4o-mini
  temperature: 0.2
tags:
  team: support
response_format:
  type: json_object
metadata:
  owner: ana
messages:
  - role: system
    content: You greet people in {{ lang }}.
  - role: user
    content: |
      Greet {{ name }}.
"""
ALIASES = "production: 2\nstaging: v1\n"
FILES = {1: "v1.txt", 2: "v2.md", 3: "v3.yaml"}


def greeting_dir(tmp_path: Path) -> Path:
    """`prompts/greeting` with a .txt, a .md and a .yaml version and two aliases, and
    `prompts/farewell` with one version."""
    root = tmp_path / "prompts"
    write(root / "greeting" / "v1.txt", V1_TXT)
    write(root / "greeting" / "v2.md", V2_MD)
    write(root / "greeting" / "v3.yaml", V3_YAML)
    write(root / "greeting" / "aliases.yaml", ALIASES)
    write(root / "farewell" / "v1.txt", "Bye {{ name }}.\n")
    return root


def one_file(tmp_path: Path, filename: str, content: str | bytes) -> tuple[PromptStore, Path]:
    """A prompt directory holding only `p/<filename>`."""
    root = tmp_path / "prompts"
    path = write(root / "p" / filename, content)
    return PromptStore(root), path


def load_error(store: PromptStore, ref: str, version: Any = None) -> str:
    with pytest.raises(PromptError) as info:
        store.load(ref, version)
    return str(info.value)


def text_prompt(template: str = "Hello {{ name }}, from {{ team.name }}!", **kwargs: Any) -> Prompt:
    return Prompt(name="greeting", version=2, template=template, digest="d" * 64, **kwargs)


CHAT = [
    {"role": "system", "content": "Answer in {{ lang }}. {{ style }}"},
    {"role": "user", "content": "{{ question }} ({{ lang }})"},
]


def chat_prompt(**kwargs: Any) -> Prompt:
    return Prompt(
        name="support", version=4, template=[dict(m) for m in CHAT], digest="c" * 64, **kwargs
    )


# -- template.py: parsing -----------------------------------------------------------------------


def test_template_of_literal_text_only() -> None:
    text = "Just text.\nNo variables here."
    template = Template(text)
    assert template.text == text
    assert template.parts == [text]
    assert template.variables == ()
    assert template.render({}) == text


def test_template_with_several_variables() -> None:
    template = Template("Hi {{ name }}, you are {{age}} and live in {{   city   }}.")
    assert template.parts == ["Hi ", "name", ", you are ", "age", " and live in ", "city", "."]
    assert template.variables == ("name", "age", "city")
    rendered = template.render({"name": "Ana", "age": "30", "city": "Lyon"})
    assert rendered == "Hi Ana, you are 30 and live in Lyon."


def test_template_adjacent_variables_and_variable_at_both_ends() -> None:
    template = Template("{{ a }}{{ b }}")
    assert template.parts == ["", "a", "", "b", ""]
    assert template.render({"a": "1", "b": "2"}) == "12"


def test_template_dotted_and_other_names() -> None:
    template = Template("{{ user.name }} {{ items.0 }} {{ first-name }} {{ _x.y_z.2 }} {{ A1 }}")
    assert template.variables == ("user.name", "items.0", "first-name", "_x.y_z.2", "A1")


def test_template_repeated_variable_is_listed_once_in_order_of_first_use() -> None:
    template = Template("{{ b }} {{ a }} {{ b }}")
    assert template.variables == ("b", "a")
    assert template.parts == ["", "b", " ", "a", " ", "b", ""]
    assert template.render({"a": "1", "b": "2"}) == "2 1 2"


@pytest.mark.parametrize(
    "text",
    [
        '{"a": {"b": 1}}',
        'Reply as JSON: {"answer": {"text": "..."}} or {name}, never { name }.',
        "a }} b }}",
        "}}",
        "{ {name} }",
    ],
)
def test_single_braces_json_and_stray_closing_braces_are_literal(text: str) -> None:
    template = Template(text)
    assert template.parts == [text]
    assert template.variables == ()
    assert template.render({}) == text


def test_literal_braces_around_a_variable() -> None:
    template = Template('Example: {"a": {"b": 1}}\n}} stray\nQuestion: {{ q }} }}')
    assert template.variables == ("q",)
    assert template.render({"q": "why?"}) == 'Example: {"a": {"b": 1}}\n}} stray\nQuestion: why? }}'


NOT_A_VARIABLE = (
    " is not a variable: write '{{ name }}' or '{{ name.field }}' "
    "(letters, digits, '_', '-', dotted)"
)


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("Hello {{ name", "'{{' is never closed by '}}'", 1),
        ("one\ntwo\nthree {{ name\nfour }", "'{{' is never closed by '}}'", 3),
        ("x\n{{ a {{ b }}", "'{{' is opened again before '}}' closes it", 2),
        ("{{ not valid! }}", "'{{ not valid! }}'" + NOT_A_VARIABLE, 1),
        ("a\n\n{{ }}", "'{{ }}'" + NOT_A_VARIABLE, 3),
        ("{{}}", "'{{}}'" + NOT_A_VARIABLE, 1),
        ("ok {{ x }}\n{{ 1abc }}", "'{{ 1abc }}'" + NOT_A_VARIABLE, 2),
        ("{{ a b }}", "'{{ a b }}'" + NOT_A_VARIABLE, 1),
        ("{{ user. }}", "'{{ user. }}'" + NOT_A_VARIABLE, 1),
        ("{{ a }} and {{{ b }}}", "'{{{ b }}'" + NOT_A_VARIABLE, 1),
        ("{{ " + "x" * 50 + "! }}", "'{{ " + "x" * 39 + "…}}'" + NOT_A_VARIABLE, 1),
    ],
)
def test_template_errors_name_the_problem_and_line(text: str, problem: str, line: int) -> None:
    with pytest.raises(TemplateError) as info:
        Template(text)
    assert info.value.problem == problem
    assert str(info.value) == problem
    assert info.value.line == line
    assert isinstance(info.value, ValueError)


# -- template.py: lookup and resolve ------------------------------------------------------------

VALUES: dict[str, Any] = {
    "name": "Ana",
    "zero": 0,
    "empty": "",
    "user": {"name": "Bo", "tags": ["x", "y"], "none": None},
    "obj": SimpleNamespace(city="Lyon", inner={"k": "v"}),
    "items": ["a", "b"],
    "pair": ("p", "q"),
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("name", "Ana"),
        ("zero", 0),
        ("empty", ""),
        ("user.name", "Bo"),
        ("user.tags.1", "y"),
        ("user.none", None),
        ("obj.city", "Lyon"),
        ("obj.inner.k", "v"),
        ("items.0", "a"),
        ("pair.1", "q"),
    ],
)
def test_lookup_finds_keys_and_dotted_paths(name: str, expected: Any) -> None:
    assert lookup(VALUES, name) == expected
    assert lookup(VALUES, name) is not _MISSING


@pytest.mark.parametrize(
    "name",
    ["nope", "nope.x", "user.age", "user.tags.2", "items.5", "items.x", "obj.nope", "name.x"],
)
def test_lookup_of_what_is_not_there_is_missing(name: str) -> None:
    assert lookup(VALUES, name) is _MISSING


def test_lookup_prefers_the_literal_dotted_key() -> None:
    values = {"user.name": "literal", "user": {"name": "walked"}}
    assert lookup(values, "user.name") == "literal"
    assert lookup({"user": {"name": "walked"}}, "user.name") == "walked"


def test_resolve_gives_texts_of_every_variable() -> None:
    texts, missing, unexpected = resolve(("name", "count"), {"name": "Ana", "count": 3})
    assert texts == {"name": "Ana", "count": "3"}
    assert missing == []
    assert unexpected == []


def test_resolve_reports_missing_variables_in_template_order() -> None:
    texts, missing, unexpected = resolve(("a", "b", "c"), {"b": 1})
    assert texts == {"b": "1"}
    assert missing == ["a", "c"]
    assert unexpected == []


def test_resolve_reports_unexpected_names_in_given_order() -> None:
    texts, missing, unexpected = resolve(("a",), {"z": 1, "a": 2, "y": 3})
    assert texts == {"a": "2"}
    assert missing == []
    assert unexpected == ["z", "y"]


def test_resolve_reports_missing_and_unexpected_together() -> None:
    # as many names as variables, one of them unexpected
    _, missing, unexpected = resolve(("a", "b"), {"a": 1, "c": 2})
    assert missing == ["b"]
    assert unexpected == ["c"]


def test_resolve_counts_the_head_of_a_dotted_variable_as_used() -> None:
    texts, missing, unexpected = resolve(("user.name",), {"user": {"name": "Bo"}})
    assert (texts, missing, unexpected) == ({"user.name": "Bo"}, [], [])
    # the head is used even when the path through it has no value
    texts, missing, unexpected = resolve(("user.name",), {"user": {}})
    assert (texts, missing, unexpected) == ({}, ["user.name"], [])


def test_resolve_with_no_variables() -> None:
    assert resolve((), {}) == ({}, [], [])
    assert resolve((), {"x": 1}) == ({}, [], ["x"])


# -- model.py -----------------------------------------------------------------------------------


def test_format_text_prompt_returns_rendered_text() -> None:
    prompt = text_prompt()
    rendered = prompt.format(name="Ana", team={"name": "Support"})
    assert rendered == "Hello Ana, from Support!"
    assert type(rendered) is RenderedText
    assert isinstance(rendered, str)
    assert rendered.prompt is prompt
    assert not prompt.is_chat


def test_format_converts_values_with_str() -> None:
    prompt = text_prompt("{{ n }} {{ f }} {{ flag }} {{ items }}")
    assert prompt.format(n=3, f=0.5, flag=False, items=[1, 2]) == "3 0.5 False [1, 2]"


def test_format_chat_prompt_returns_rendered_messages() -> None:
    prompt = chat_prompt()
    rendered = prompt.format(lang="French", style="Be brief.", question="Hours?")
    assert rendered == [
        {"role": "system", "content": "Answer in French. Be brief."},
        {"role": "user", "content": "Hours? (French)"},
    ]
    assert type(rendered) is RenderedMessages
    assert isinstance(rendered, list)
    assert rendered.prompt is prompt
    assert prompt.is_chat
    assert prompt.template == CHAT  # the template itself is untouched


def test_variables_in_order_of_first_use_across_messages() -> None:
    assert chat_prompt().variables == ["lang", "style", "question"]
    assert text_prompt("{{ b }} {{ a }} {{ b }} {{ c.d }}").variables == ["b", "a", "c.d"]
    assert text_prompt("no variables").variables == []


def test_format_with_missing_variable() -> None:
    with pytest.raises(PromptFormatError) as info:
        text_prompt().format(name="Ana")
    assert (
        str(info.value) == "prompt greeting v2: missing team.name (its variables: name, team.name)"
    )
    assert isinstance(info.value, ValueError)


def test_format_with_unexpected_variables() -> None:
    with pytest.raises(PromptFormatError) as info:
        text_prompt().format(name="Ana", team={"name": "S"}, extra=1, other=2)
    assert str(info.value) == (
        "prompt greeting v2: unexpected extra, other (its variables: name, team.name); "
        "pass every variable, or use render(variables, allow_unexpected=True) to ignore extra ones"
    )


def test_format_with_missing_and_unexpected_variables() -> None:
    with pytest.raises(PromptFormatError) as info:
        chat_prompt().format(lang="en", extra=1)
    assert str(info.value) == (
        "prompt support v4: missing style, question and unexpected extra "
        "(its variables: lang, style, question); "
        "pass every variable, or use render(variables, allow_unexpected=True) to ignore extra ones"
    )


def test_format_of_a_prompt_without_variables() -> None:
    prompt = text_prompt("Static text.")
    assert prompt.format() == "Static text."
    with pytest.raises(PromptFormatError) as info:
        prompt.format(x=1)
    assert str(info.value).startswith("prompt greeting v2: unexpected x (its variables: none);")


def test_format_fills_a_variable_named_self() -> None:
    # `self` is a valid variable name; format(**variables) must accept it like any other
    prompt = text_prompt("Talk about {{ self }}.")
    assert prompt.render({"self": "yourself"}) == "Talk about yourself."
    assert prompt.format(self="yourself") == "Talk about yourself."


def test_render_allow_unexpected_ignores_extra_names() -> None:
    prompt = text_prompt()
    context = {"name": "Ana", "team": {"name": "Support"}, "unused": 1, "also": 2}
    rendered = prompt.render(context, allow_unexpected=True)
    assert rendered == "Hello Ana, from Support!"
    assert rendered.prompt is prompt
    with pytest.raises(PromptFormatError):
        prompt.render(context)


def test_render_allow_unexpected_still_reports_missing_variables() -> None:
    with pytest.raises(PromptFormatError) as info:
        text_prompt().render({"name": "Ana", "unused": 1}, allow_unexpected=True)
    # the extra name was allowed: the message names only what is missing, and does not
    # suggest allow_unexpected=True to a caller who passed it
    assert (
        str(info.value) == "prompt greeting v2: missing team.name (its variables: name, team.name)"
    )


def test_render_takes_literal_dotted_keys() -> None:
    prompt = text_prompt()
    assert prompt.render({"name": "Ana", "team.name": "Ops"}) == "Hello Ana, from Ops!"


def test_uri_and_repr() -> None:
    prompt = text_prompt()
    assert prompt.uri == "prompts:/greeting/2"
    assert repr(prompt) == "Prompt(name='greeting', version=2)"
    assert repr(prompt.with_alias("production")) == (
        "Prompt(name='greeting', version=2, alias='production')"
    )


def test_with_alias() -> None:
    prompt = text_prompt(path=Path("x/v2.txt"), metadata={"description": "d"})
    aliased = prompt.with_alias("production")
    assert aliased is not prompt
    assert aliased.alias == "production"
    assert prompt.alias is None
    for attribute in ("name", "version", "template", "digest", "path", "metadata", "variables"):
        assert getattr(aliased, attribute) == getattr(prompt, attribute)
    assert aliased.format(name="A", team={"name": "B"}) == "Hello A, from B!"
    assert prompt.with_alias(None) is prompt
    assert aliased.with_alias("production") is aliased
    assert aliased.with_alias(None) == prompt


def test_equality_and_hash() -> None:
    prompt = text_prompt()
    same = text_prompt()
    assert prompt == same
    assert hash(prompt) == hash(same)
    assert len({prompt, same}) == 1
    aliased = prompt.with_alias("production")
    assert prompt != aliased
    assert hash(prompt) == hash(aliased)
    assert prompt != Prompt(name="greeting", version=2, template=prompt.template, digest="e" * 64)
    assert prompt != Prompt(name="greeting", version=3, template=prompt.template, digest="d" * 64)
    assert prompt != Prompt(name="other", version=2, template=prompt.template, digest="d" * 64)
    assert prompt != "Hello {{ name }}, from {{ team.name }}!"
    assert prompt.__eq__("x") is NotImplemented


def test_metadata_properties() -> None:
    metadata = {
        "description": "Greets",
        "tags": {"team": "support"},
        "model_config": {"model": "gpt-4o-mini", "temperature": 0.2},
        "response_format": {"type": "json_object"},
    }
    prompt = text_prompt(metadata=metadata)
    assert prompt.description == "Greets"
    assert prompt.tags == {"team": "support"}
    assert prompt.model_config == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert prompt.response_format == {"type": "json_object"}
    # copies: changing them changes neither the prompt nor the caller's mapping
    prompt.tags["x"] = "y"
    prompt.model_config["temperature"] = 1.0
    assert prompt.tags == {"team": "support"}
    assert prompt.model_config["temperature"] == 0.2
    prompt.metadata["description"] = "changed"
    assert metadata["description"] == "Greets"


def test_metadata_properties_default_to_empty() -> None:
    prompt = text_prompt()
    assert prompt.metadata == {}
    assert prompt.description is None
    assert prompt.tags == {}
    assert prompt.model_config == {}
    assert prompt.response_format is None


# -- store.py: refs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("greeting", ("greeting", None, None)),
        ("greeting@3", ("greeting", 3, None)),
        ("greeting@v3", ("greeting", 3, None)),
        ("greeting@latest", ("greeting", None, None)),
        ("greeting@production", ("greeting", None, "production")),
        ("prompts:/greeting/3", ("greeting", 3, None)),
        ("prompts:/greeting@production", ("greeting", None, "production")),
        ("prompts:/greeting", ("greeting", None, None)),
        ("  my_prompt-2.b@v12  ", ("my_prompt-2.b", 12, None)),
    ],
)
def test_parse_ref(ref: str, expected: tuple[str, int | None, str | None]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "version", "alias"),
    [
        ("greeting", 3, None),
        ("greeting@3", 3, None),
        ("greeting@1", 1, None),
        ("greeting@v1", 1, None),
        ("greeting@v2", 2, None),
        ("greeting@latest", 3, None),
        ("greeting@production", 2, "production"),
        ("greeting@staging", 1, "staging"),
        ("prompts:/greeting/1", 1, None),
        ("prompts:/greeting@production", 2, "production"),
        ("prompts:/greeting", 3, None),
    ],
)
def test_load_prompt_refs(tmp_path: Path, ref: str, version: int, alias: str | None) -> None:
    root = greeting_dir(tmp_path)
    prompt = load_prompt(ref, prompts_dir=root)
    assert (prompt.name, prompt.version, prompt.alias) == ("greeting", version, alias)
    assert prompt.path == root / "greeting" / FILES[version]
    assert prompt.digest == sha256(root / "greeting" / FILES[version])


@pytest.mark.parametrize(
    ("version", "expected", "alias"),
    [(1, 1, None), ("2", 2, None), ("v3", 3, None), ("production", 2, "production")],
)
def test_load_prompt_version_keyword(
    tmp_path: Path, version: int | str, expected: int, alias: str | None
) -> None:
    root = greeting_dir(tmp_path)
    prompt = load_prompt("greeting", version, prompts_dir=root)
    assert (prompt.version, prompt.alias) == (expected, alias)
    assert load_prompt("greeting", version=version, prompts_dir=root) == prompt


@pytest.mark.parametrize("ref", ["greeting@2", "greeting@v2", "greeting@production"])
def test_version_keyword_conflicts_with_a_ref_that_names_one(tmp_path: Path, ref: str) -> None:
    store = PromptStore(greeting_dir(tmp_path))
    message = load_error(store, ref, 1)
    assert message == f"{ref!r} already names a version or alias; don't pass version= too"


def test_version_keyword_conflicts_with_at_latest(tmp_path: Path) -> None:
    # 'greeting@latest' names the newest version: version=1 on top of it contradicts it
    store = PromptStore(greeting_dir(tmp_path))
    message = load_error(store, "greeting@latest", 1)
    assert message == "'greeting@latest' already names a version or alias; don't pass version= too"


def test_version_keyword_zero(tmp_path: Path) -> None:
    store = PromptStore(greeting_dir(tmp_path))
    assert load_error(store, "greeting", 0).startswith("'greeting@0': versions start at 1; ")


# -- store.py: file kinds -----------------------------------------------------------------------


def test_txt_and_md_templates_are_the_file_text(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    v1 = load_prompt("greeting@1", prompts_dir=root)
    assert v1.template == V1_TXT
    assert v1.variables == ["name"]
    assert v1.metadata == {}
    assert not v1.is_chat
    assert v1.format(name="Ana") == "Hello Ana!\n"
    v2 = load_prompt("greeting@2", prompts_dir=root)
    assert v2.template == V2_MD
    assert v2.variables == ["name", "place"]
    assert v2.format(name="Ana", place="Lyon") == "# Greeting\n\nHi Ana, welcome to Lyon.\n"


def test_digest_is_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    # CRLF line ends and non-ASCII text: the digest is of the bytes, not the decoded text
    store, path = one_file(tmp_path, "v1.txt", "Héllo {{ name }}\r\n".encode())
    prompt = store.load("p")
    assert prompt.digest == hashlib.sha256("Héllo {{ name }}\r\n".encode()).hexdigest()
    assert prompt.digest == digest_of(path.read_bytes())
    assert len(prompt.digest) == 64


def test_yaml_chat_prompt_with_metadata(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    prompt = load_prompt("greeting@3", prompts_dir=root)
    assert prompt.is_chat
    assert prompt.template == [
        {"role": "system", "content": "You greet people in {{ lang }}."},
        {"role": "user", "content": "Greet {{ name }}.\n"},
    ]
    assert prompt.variables == ["lang", "name"]
    assert prompt.description == "Friendly greeting"
    assert prompt.model_config == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert prompt.tags == {"team": "support"}
    assert prompt.response_format == {"type": "json_object"}
    assert prompt.metadata == {
        "description": "Friendly greeting",
        "model_config": {"model": "gpt-4o-mini", "temperature": 0.2},
        "tags": {"team": "support"},
        "response_format": {"type": "json_object"},
        "metadata": {"owner": "ana"},
    }
    assert prompt.format(lang="French", name="Ana") == [
        {"role": "system", "content": "You greet people in French."},
        {"role": "user", "content": "Greet Ana.\n"},
    ]


def test_yaml_text_template(tmp_path: Path) -> None:
    store, _ = one_file(
        tmp_path, "v1.yaml", "template: |\n  Summarize {{ text }}\ndescription: Summaries\n"
    )
    prompt = store.load("p")
    assert not prompt.is_chat
    assert prompt.template == "Summarize {{ text }}\n"
    assert prompt.metadata == {"description": "Summaries"}
    assert prompt.format(text="this") == "Summarize this\n"


def test_yaml_template_key_may_hold_messages(tmp_path: Path) -> None:
    store, _ = one_file(
        tmp_path, "v1.yml", "template:\n  - role: user\n    content: Hi {{ name }}\n"
    )
    prompt = store.load("p")
    assert prompt.template == [{"role": "user", "content": "Hi {{ name }}"}]
    assert prompt.format(name="Ana") == [{"role": "user", "content": "Hi Ana"}]


def test_yaml_top_level_message_list(tmp_path: Path) -> None:
    store, _ = one_file(
        tmp_path,
        "v1.yaml",
        "- role: system\n  content: Be kind.\n- role: user\n  content: '{{ question }}'\n",
    )
    prompt = store.load("p")
    assert prompt.template == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "{{ question }}"},
    ]
    assert prompt.metadata == {}
    assert prompt.format(question="Why?") == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Why?"},
    ]


def test_yaml_empty_metadata_is_left_out(tmp_path: Path) -> None:
    store, _ = one_file(tmp_path, "v1.yaml", "template: hi\nmetadata: {}\n")
    assert store.load("p").metadata == {}


def test_files_that_are_not_versions_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    v1 = write(root / "p" / "v1.txt", "one")
    write(root / "p" / "README.md", "notes")
    write(root / "p" / "v1.txt.bak", "old")
    write(root / "p" / "draft-v2.txt", "draft")
    (root / "p" / "v9.txt").mkdir()
    store = PromptStore(root)
    assert store.versions("p") == {1: v1}
    assert store.load("p").version == 1


def test_names_lists_valid_prompt_folders(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    (root / ".hidden").mkdir()
    (root / "bad name").mkdir()
    write(root / "notes.txt", "not a prompt")
    write(root / "prompts.lock", "")
    assert PromptStore(root).names() == ["farewell", "greeting"]
    assert PromptStore(tmp_path / "missing").names() == []


def test_versions_numbers_sort_numerically(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    for n in (10, 2, 1):
        write(root / "p" / f"v{n}.txt", f"version {n}")
    store = PromptStore(root)
    assert sorted(store.versions("p")) == [1, 2, 10]
    assert store.load("p").version == 10
    assert store.load("p").template == "version 10"


# -- store.py: which directory --------------------------------------------------------------------


def test_store_for_is_cached_per_directory(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    store = store_for(root)
    assert store is store_for(str(root))
    assert store.root == root.absolute()
    assert store.check_lock is False


def test_load_prompt_defaults_to_the_runs_prompt_directory_with_the_lock_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = greeting_dir(tmp_path)
    monkeypatch.setattr(store_module, "prompt_dirs", [(root, True)])
    assert store_for().root == root
    assert store_for().check_lock is True
    assert load_prompt("greeting@1").template == V1_TXT
    lock.update(store_for())
    write(root / "greeting" / "v1.txt", "Hello again {{ name }}!\n")
    with pytest.raises(PromptError) as info:
        load_prompt("greeting@1")
    assert str(info.value) == (
        f"{root / 'greeting' / 'v1.txt'}: prompt greeting v1 changed after it was locked: "
        "save the new text as v4"
    )
    # the run's directory named explicitly is still the run's: the lock holds there too
    with pytest.raises(PromptError, match="changed after it was locked"):
        load_prompt("greeting@1", prompts_dir=root)


def test_load_prompt_outside_a_run_reads_env_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "prompt_dirs", [])
    root = greeting_dir(tmp_path / "from_env")
    monkeypatch.setenv("GENAI_PROMPTS_DIR", str(root))
    assert load_prompt("farewell").path == root / "farewell" / "v1.txt"
    assert store_for().check_lock is False
    monkeypatch.delenv("GENAI_PROMPTS_DIR")
    cwd_root = greeting_dir(tmp_path / "cwd")
    monkeypatch.chdir(cwd_root.parent)
    assert store_for().root == cwd_root
    assert load_prompt("greeting@1").path == cwd_root / "greeting" / "v1.txt"


# -- store.py: caching --------------------------------------------------------------------------


def test_unchanged_file_is_read_once(tmp_path: Path) -> None:
    store = PromptStore(greeting_dir(tmp_path))
    first = store.load("greeting@1")
    assert store.load("greeting@1") is first
    assert store.load("greeting@production").alias == "production"
    assert store.load("greeting@2") is store.load("greeting@2")


def test_edit_that_changes_size_is_seen(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    store = PromptStore(root)
    assert store.load("greeting@1").template == V1_TXT
    path = write(root / "greeting" / "v1.txt", "Good morning {{ name }} in {{ city }}!\n")
    prompt = store.load("greeting@1")
    assert prompt.template == "Good morning {{ name }} in {{ city }}!\n"
    assert prompt.variables == ["name", "city"]
    assert prompt.digest == sha256(path)
    # and through load_prompt's shared store
    assert load_prompt("greeting@1", prompts_dir=root).template == prompt.template


def test_edit_of_same_size_with_newer_mtime_is_seen(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    store = PromptStore(root)
    before = store.load("greeting@1")
    path = write(root / "greeting" / "v1.txt", "Howdy {{ name }}!\n")
    assert path.stat().st_size == len(V1_TXT)
    bump_mtime(path)
    after = store.load("greeting@1")
    assert after.template == "Howdy {{ name }}!\n"
    assert after.digest == sha256(path) != before.digest


def test_new_version_file_and_alias_edits_are_seen(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    store = PromptStore(root)
    assert store.load("greeting").version == 3
    assert store.load("greeting@production").version == 2
    write(root / "greeting" / "v4.txt", "Hey {{ name }}\n")
    assert store.load("greeting").version == 4
    assert store.load("greeting@latest").template == "Hey {{ name }}\n"
    aliases = write(root / "greeting" / "aliases.yaml", "production: 4\nstaging: v1\ncanary: 3\n")
    bump_mtime(aliases)
    assert store.load("greeting@production").version == 4
    assert store.load("greeting@canary").version == 3


def test_deleted_prompt_folder_is_seen(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    store = PromptStore(root)
    assert store.load("farewell").version == 1
    (root / "farewell" / "v1.txt").unlink()
    (root / "farewell").rmdir()
    assert load_error(store, "farewell") == (
        f"no prompt named 'farewell' in {root}; prompts there: greeting"
    )


# -- store.py: what does not exist --------------------------------------------------------------


def test_unknown_prompt_lists_the_existing_ones(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    (root / ".hidden").mkdir()
    message = load_error(PromptStore(root), "greting")
    assert message == f"no prompt named 'greting' in {root}; prompts there: farewell, greeting"


def test_unknown_prompt_in_an_empty_directory(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    root.mkdir()
    message = load_error(PromptStore(root), "greeting")
    assert message == f"no prompt named 'greeting' in {root}; the directory has no prompts"


def test_missing_prompt_directory(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(PromptError) as info:
        load_prompt("greeting", prompts_dir=root)
    assert str(info.value) == (
        f"no prompt named 'greeting' in {root}; the prompt directory {root} does not exist: "
        "create it, or set genai_prompts_dir"
    )


def test_prompt_name_that_is_a_file_not_a_folder(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    write(root / "loose", "text")
    assert load_error(PromptStore(root), "loose") == (
        f"no prompt named 'loose' in {root}; prompts there: farewell, greeting"
    )


def test_prompt_folder_without_version_files(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    write(root / "p" / "README.md", "notes")
    assert load_error(PromptStore(root), "p") == (
        f"{root / 'p'}: prompt 'p' has no version files; add v1.txt, v1.md or v1.yaml"
    )


@pytest.mark.parametrize("ref", ["greeting@7", "greeting@v7", "prompts:/greeting/7"])
def test_unknown_version_lists_the_versions(tmp_path: Path, ref: str) -> None:
    message = load_error(PromptStore(greeting_dir(tmp_path)), ref)
    assert message == "prompt 'greeting' has no version 7 (it has v1, v2, v3)"


@pytest.mark.parametrize("ref", ["greeting@prod", "prompts:/greeting@prod"])
def test_unknown_alias_lists_the_aliases(tmp_path: Path, ref: str) -> None:
    root = greeting_dir(tmp_path)
    message = load_error(PromptStore(root), ref)
    assert message == (
        f"{root / 'greeting' / 'aliases.yaml'}: prompt 'greeting' has no alias 'prod' "
        "(its aliases: production, staging; 'latest' is the newest version)"
    )


@pytest.mark.parametrize("aliases", [None, "", "# nothing yet\n"])
def test_unknown_alias_without_aliases(tmp_path: Path, aliases: str | None) -> None:
    root = tmp_path / "prompts"
    write(root / "p" / "v1.txt", "x")
    if aliases is not None:
        write(root / "p" / "aliases.yaml", aliases)
    message = load_error(PromptStore(root), "p@production")
    assert message == (
        f"{root / 'p' / 'aliases.yaml'}: prompt 'p' has no alias 'production' "
        "(its aliases: none; 'latest' is the newest version)"
    )


# -- store.py: bad names and refs ---------------------------------------------------------------

NAME_FIX = "use letters, digits, '_', '.' and '-' only (no '/', '\\' or '..')"
REF_FIX = "write 'name', 'name@3', 'name@alias', 'prompts:/name/3' or 'prompts:/name@alias'"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("a/b", f"'a/b' is not a valid prompt name: it is a path; {NAME_FIX}"),
        ("../secrets", f"'../secrets' is not a valid prompt name: it is a path; {NAME_FIX}"),
        ("a\\b", f"'a\\\\b' is not a valid prompt name: it is a path; {NAME_FIX}"),
        ("..", f"'..' is not a valid prompt name: it is a path; {NAME_FIX}"),
        (".", f"'.' is not a valid prompt name: it has other characters; {NAME_FIX}"),
        ("a..b", "'a..b' is not a valid prompt name: it contains '..'; rename it without '..'"),
        ("hi there", f"'hi there' is not a valid prompt name: it has other characters; {NAME_FIX}"),
        ("@3", f"'' is not a valid prompt name: it has other characters; {NAME_FIX}"),
        ("", f"'' is not a prompt reference; {REF_FIX}"),
        ("   ", f"'   ' is not a prompt reference; {REF_FIX}"),
        ("prompts:/greeting/v3", f"'prompts:/greeting/v3' is not a prompt reference; {REF_FIX}"),
        ("prompts:/greeting/", f"'prompts:/greeting/' is not a prompt reference; {REF_FIX}"),
        ("prompts:/a@b/3", f"'prompts:/a@b/3' is not a prompt reference; {REF_FIX}"),
        ("prompts:/a/b/3", f"'prompts:/a/b/3' is not a prompt reference; {REF_FIX}"),
        (
            "greeting@",
            "'' is not a valid alias: it has other characters; "
            "use letters, digits, '_', '.' and '-' only (no '/', '\\' or '..')",
        ),
        ("greeting@prod/x", f"'prod/x' is not a valid alias: it is a path; {NAME_FIX}"),
        ("greeting@0", f"'greeting@0': versions start at 1; {REF_FIX}"),
        ("greeting@v0", f"'greeting@v0': versions start at 1; {REF_FIX}"),
        ("prompts:/greeting/0", f"'prompts:/greeting/0': versions start at 1; {REF_FIX}"),
    ],
)
def test_bad_names_and_refs(tmp_path: Path, ref: str, message: str) -> None:
    root = greeting_dir(tmp_path)
    with pytest.raises(PromptError) as info:
        load_prompt(ref, prompts_dir=root)
    assert str(info.value) == message


def test_a_path_name_never_reads_outside_the_directory(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    write(tmp_path / "outside" / "v1.txt", "secret")
    for ref, problem in [
        ("../outside", "is not a valid prompt name: it is a path"),
        ("greeting/../../outside", "is not a valid prompt name: it is a path"),
        ("prompts:/..@v1", "is not a valid prompt name: it is a path"),
        ("prompts:/../outside/1", "is not a prompt reference"),
    ]:
        with pytest.raises(PromptError, match=problem):
            load_prompt(ref, prompts_dir=root)


def test_non_text_ref_is_rejected() -> None:
    with pytest.raises(PromptError) as info:
        parse_ref(None)  # type: ignore[arg-type]
    assert str(info.value) == f"None is not a prompt reference; {REF_FIX}"


def test_check_name() -> None:
    assert check_name("my_prompt-1.b") == "my_prompt-1.b"
    with pytest.raises(PromptError) as info:
        check_name("a/b", "alias")
    assert str(info.value) == f"'a/b' is not a valid alias: it is a path; {NAME_FIX}"
    with pytest.raises(PromptError) as info:
        check_name(3)  # type: ignore[arg-type]
    assert str(info.value) == f"3 is not a valid prompt name: it has other characters; {NAME_FIX}"


# -- store.py: bad version files ----------------------------------------------------------------


def test_version_zero_file(tmp_path: Path) -> None:
    store, path = one_file(tmp_path, "v0.txt", "x")
    assert load_error(store, "p") == f"{path}: versions start at 1; rename it v1"


@pytest.mark.parametrize(
    ("files", "shown"),
    [(("v1.txt", "v1.yaml"), "v1.txt and v1.yaml"), (("v1.md", "v01.txt"), "v01.txt and v1.md")],
)
def test_two_files_for_one_version(tmp_path: Path, files: tuple[str, str], shown: str) -> None:
    root = tmp_path / "prompts"
    for filename in files:
        write(root / "p" / filename, "template: x\n")
    message = load_error(PromptStore(root), "p@2")
    assert message == f"{root / 'p'}: two files for version 1: {shown}; keep one file per version"


def test_unsupported_extension(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    write(root / "p" / "v1.txt", "x")
    path = write(root / "p" / "v2.json", '{"template": "x"}')
    message = load_error(PromptStore(root), "p@1")
    assert message == (
        f"{path}: unsupported prompt file extension '.json'; use .txt or .md for a text "
        "template, .yaml for a chat template or metadata"
    )


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    store, path = one_file(tmp_path, "v1.txt", b"Hello\nthere \xff{{ name }}\n")
    assert load_error(store, "p") == f"{path}:2: not UTF-8 text"
    store, path = one_file(tmp_path / "y", "v1.yaml", b"template: caf\xe9\n")
    assert load_error(store, "p") == f"{path}:1: not UTF-8 text"


def test_unbalanced_braces_in_a_text_file_names_the_line(tmp_path: Path) -> None:
    store, path = one_file(tmp_path, "v1.md", "# Title\n\nAnswer {{ question\n")
    assert load_error(store, "p") == f"{path}:3: '{{{{' is never closed by '}}}}'"
    store, path = one_file(tmp_path / "b", "v1.txt", "ok {{ a }}\n{{ not valid! }}\n")
    assert load_error(store, "p") == f"{path}:2: '{{{{ not valid! }}}}'{NOT_A_VARIABLE}"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        # libyaml's wording where PyYAML has it, the pure-Python parser's otherwise
        (
            'template: "x"\n  bad: indent\n',
            2,
            ("did not find expected key", "expected <block end>"),
        ),
        ("template: hi\n\tdescription: x\n", 2, ("tab character", "'\\t'")),
        ("template: {{ name }}\n", 1, ("found unhashable key",)),
    ],
)
def test_unparseable_yaml_names_the_line(
    tmp_path: Path, text: str, line: int, problem: tuple[str, ...]
) -> None:
    store, path = one_file(tmp_path, "v1.yaml", text)
    error = load_error(store, "p")
    assert error.startswith(f"{path}:{line}: invalid YAML: ")
    assert any(words in error for words in problem), error


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = f'template: !!python/object/apply:os.system ["touch {marker}"]\n'
    store, path = one_file(tmp_path, "v1.yaml", text)
    with pytest.raises(PromptError) as info:
        store.load("p")
    assert str(info.value) == (
        f"{path}:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    )
    assert info.value.line == 1
    assert not marker.exists()


def test_yaml_python_name_tag_is_an_error(tmp_path: Path) -> None:
    store, path = one_file(
        tmp_path, "v1.yaml", "description: d\ntemplate: !!python/name:os.system\n"
    )
    message = load_error(store, "p")
    assert message.startswith(f"{path}:2: invalid YAML: could not determine a constructor")


def test_yaml_unknown_key_names_the_line(tmp_path: Path) -> None:
    store, path = one_file(tmp_path, "v1.yaml", "template: hi\ndescription: d\nmodel: gpt-4o\n")
    assert load_error(store, "p") == (
        f"{path}:3: unknown key 'model'; use template, messages, description, model_config, "
        "response_format, tags, metadata (free-form data goes under 'metadata')"
    )


@pytest.mark.parametrize(
    ("text", "line", "number"),
    [
        (
            "messages:\n  - role: user\n    content: hi\n  - content: no role\n",
            4,
            2,
        ),
        ("messages:\n  - role: user\n", 2, 1),
        ("messages:\n  - role: user\n    content: hi\n    name: extra\n", 2, 1),
        ("messages:\n  - role: user\n    content: 42\n", 2, 1),
        ("messages:\n  - just text\n", 2, 1),
        ("- role: system\n  content: a\n- role: user\n", 3, 2),
    ],
)
def test_message_without_role_or_content_names_the_line(
    tmp_path: Path, text: str, line: int, number: int
) -> None:
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == (
        f"{path}:{line}: message {number} must be a mapping of 'role' and 'content' texts"
    )


@pytest.mark.parametrize("text", ["just a string\n", "", "42\n", "null\n"])
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == (
        f"{path}:1: expected a mapping with 'template' or 'messages', or a list of messages"
    )


@pytest.mark.parametrize(
    "text", ["description: d\n", "template: a\nmessages:\n  - role: user\n    content: b\n"]
)
def test_yaml_needs_exactly_one_of_template_and_messages(tmp_path: Path, text: str) -> None:
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == (
        f"{path}:1: give exactly one of 'template' (a text, or a list of messages) and 'messages'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("description: d\nmessages: hello\n", "2: 'messages' must be a list"),
        ("template: []\n", "1: 'template' must be a text or a non-empty list of messages"),
        (
            "description: d\ntemplate:\n  foo: bar\n",
            "3: 'template' must be a text or a non-empty list of messages",
        ),
        ("messages: 3\n", "1: 'messages' must be a non-empty list of messages"),
        ("template: hi\nmetadata: [1, 2]\n", "2: 'metadata' must be a mapping"),
        ("template: hi\ntags: [a, b]\n", "2: 'tags' must be a mapping"),
        ("template: hi\nmodel_config: gpt-4o\n", "2: 'model_config' must be a mapping"),
        ("template: hi\n\ndescription:\n  - a\n", "4: 'description' must be a text"),
    ],
)
def test_yaml_fields_of_the_wrong_kind(tmp_path: Path, text: str, message: str) -> None:
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == f"{path}:{message}"


def test_template_error_in_a_yaml_plain_scalar(tmp_path: Path) -> None:
    store, path = one_file(tmp_path, "v1.yaml", "description: d\ntemplate: Hi {{ name\n")
    assert load_error(store, "p") == f"{path}:2: '{{{{' is never closed by '}}}}'"


def test_template_error_in_a_yaml_block_scalar_names_the_file_line(tmp_path: Path) -> None:
    text = (
        "description: d\n"  # 1
        "messages:\n"  # 2
        "  - role: system\n"  # 3
        "    content: You are helpful.\n"  # 4
        "  - role: user\n"  # 5
        "    content: |\n"  # 6
        "      Please greet\n"  # 7
        "      {{ name }} and {{ other\n"  # 8
        "      politely.\n"  # 9
    )
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == f"{path}:8: '{{{{' is never closed by '}}}}'"


def test_template_error_in_a_yaml_block_text_template(tmp_path: Path) -> None:
    text = "template: |-\n  line one\n  line two\n  {{ a {{ b }}\n"
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == f"{path}:4: '{{{{' is opened again before '}}}}' closes it"


def test_template_error_in_a_yaml_folded_scalar_names_the_file_line(tmp_path: Path) -> None:
    text = (
        "messages:\n"  # 1
        "  - role: system\n"  # 2
        "    content: >\n"  # 3
        "      one\n"  # 4
        "      two {{ x\n"  # 5
    )
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == f"{path}:5: '{{{{' is never closed by '}}}}'"


def test_template_error_in_a_top_level_message_list_names_the_line(tmp_path: Path) -> None:
    text = "- role: system\n  content: Be kind.\n- role: user\n  content: 'Hi {{ name'\n"
    store, path = one_file(tmp_path, "v1.yaml", text)
    assert load_error(store, "p") == f"{path}:4: '{{{{' is never closed by '}}}}'"


# -- store.py: bad aliases.yaml -----------------------------------------------------------------


def aliases_error(tmp_path: Path, text: str) -> tuple[str, Path]:
    root = greeting_dir(tmp_path)
    path = write(root / "greeting" / "aliases.yaml", text)
    return load_error(PromptStore(root), "greeting@production"), path


def test_alias_pointing_to_a_missing_version(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, "staging: 1\nproduction: 9\n")
    assert message == (
        f"{path}:2: alias 'production' points to v9, which does not exist (versions: v1, v2, v3)"
    )


def test_alias_to_a_missing_version_does_not_stop_loading_by_number(tmp_path: Path) -> None:
    root = greeting_dir(tmp_path)
    write(root / "greeting" / "aliases.yaml", "production: 9\n")
    assert PromptStore(root).load("greeting@2").version == 2


def test_alias_latest_is_reserved(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, "production: 1\nlatest: 2\n")
    assert message == (
        f"{path}:2: 'latest' is reserved for the newest version; choose another alias"
    )


def test_numeric_only_alias(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, 'production: 1\n"3": 2\n')
    assert message == (
        f"{path}:2: '3' is not a valid alias; "
        "use letters, digits, '_', '.' and '-', not only digits"
    )
    # unquoted, YAML reads the key as a number: still rejected, naming the file
    message, path = aliases_error(tmp_path / "b", "3: 2\n")
    assert message.startswith(str(path))
    assert "3 is not a valid alias; use letters, digits, '_', '.' and '-', not only digits" in (
        message
    )


def test_alias_with_a_path_name(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, "production: 1\n../x: 2\n")
    assert message == (
        f"{path}:2: '../x' is not a valid alias; "
        "use letters, digits, '_', '.' and '-', not only digits"
    )


@pytest.mark.parametrize(
    ("value", "shown"), [("abc", "'abc'"), ("0", "0"), ("true", "True"), ("1.5", "1.5")]
)
def test_alias_value_that_is_not_a_version(tmp_path: Path, value: str, shown: str) -> None:
    message, path = aliases_error(tmp_path, f"production: {value}\n")
    assert message == (
        f"{path}:1: alias 'production': {shown} is not a version number; write 'production: 3'"
    )


def test_aliases_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, "- production\n")
    assert message == (f"{path}:1: expected a mapping of alias to version, such as 'production: 3'")


def test_unparseable_aliases_file(tmp_path: Path) -> None:
    message, path = aliases_error(tmp_path, "production: 1\n staging: [2\n")
    assert message.startswith(f"{path}:2: invalid YAML: ")


# -- lock.py ------------------------------------------------------------------------------------


def lock_dir(tmp_path: Path) -> tuple[PromptStore, Path]:
    root = tmp_path / "prompts"
    write(root / "greeting" / "v1.txt", "Hello {{ name }}!\n")
    write(root / "greeting" / "v2.txt", "Hi {{ name }}!\n")
    return PromptStore(root), root


def lock_entries(root: Path) -> list[str]:
    text = (root / "prompts.lock").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_update_creates_a_sorted_lock(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    for n in (1, 2, 10):
        write(root / "greeting" / f"v{n}.txt", f"Hello {n} {{{{ name }}}}\n")
    write(root / "farewell" / "v1.yaml", "template: Bye\n")
    write(root / "greeting" / "aliases.yaml", "production: 2\n")
    store = PromptStore(root)
    added = lock.update(store)
    assert added == ["farewell v1", "greeting v1", "greeting v2", "greeting v10"]
    text = (root / "prompts.lock").read_text(encoding="utf-8")
    assert text.startswith("# pytest-genai prompt lock: the sha256 of each published prompt")
    assert text.endswith("\n")
    assert lock_entries(root) == [
        f"farewell v1 {sha256(root / 'farewell' / 'v1.yaml')}",
        f"greeting v1 {sha256(root / 'greeting' / 'v1.txt')}",
        f"greeting v2 {sha256(root / 'greeting' / 'v2.txt')}",
        f"greeting v10 {sha256(root / 'greeting' / 'v10.txt')}",
    ]
    assert lock.read_lock(root / "prompts.lock") == {
        ("farewell", 1): sha256(root / "farewell" / "v1.yaml"),
        ("greeting", 1): sha256(root / "greeting" / "v1.txt"),
        ("greeting", 2): sha256(root / "greeting" / "v2.txt"),
        ("greeting", 10): sha256(root / "greeting" / "v10.txt"),
    }
    assert store.locked() == lock.read_lock(root / "prompts.lock")
    assert not [p for p in root.iterdir() if p.name.startswith(".prompts.lock.")]


def test_second_update_adds_only_new_versions(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    assert lock.update(store) == ["greeting v1", "greeting v2"]
    before = (root / "prompts.lock").read_bytes()
    assert lock.update(store) == []
    assert (root / "prompts.lock").read_bytes() == before
    write(root / "greeting" / "v3.txt", "Hey {{ name }}!\n")
    write(root / "another" / "v1.txt", "x")
    assert lock.update(store) == ["another v1", "greeting v3"]
    assert lock_entries(root) == [
        f"another v1 {sha256(root / 'another' / 'v1.txt')}",
        f"greeting v1 {sha256(root / 'greeting' / 'v1.txt')}",
        f"greeting v2 {sha256(root / 'greeting' / 'v2.txt')}",
        f"greeting v3 {sha256(root / 'greeting' / 'v3.txt')}",
    ]


def test_update_of_an_empty_or_missing_directory(tmp_path: Path) -> None:
    assert lock.update(PromptStore(tmp_path / "missing")) == []
    assert not (tmp_path / "missing").exists()
    root = tmp_path / "prompts"
    root.mkdir()
    assert lock.update(PromptStore(root)) == []
    assert (root / "prompts.lock").exists()
    assert lock_entries(root) == []


def test_check_without_a_lock_or_unchanged(tmp_path: Path) -> None:
    store, _ = lock_dir(tmp_path)
    assert lock.check(store) == []
    lock.update(store)
    assert lock.check(store) == []
    write(tmp_path / "prompts" / "greeting" / "v3.txt", "new versions are free")
    write(tmp_path / "prompts" / "greeting" / "aliases.yaml", "production: 3\n")
    assert lock.check(store) == []


def test_check_reports_a_changed_version(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    write(root / "greeting" / "v1.txt", "Hello there {{ name }}!\n")
    assert lock.check(store) == [
        "prompt greeting v1 changed after it was locked: save the new text as v3"
    ]


def test_check_sees_a_same_size_edit(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    path = write(root / "greeting" / "v2.txt", "Yo {{ name }}!\n")
    bump_mtime(path)
    assert lock.check(store) == [
        "prompt greeting v2 changed after it was locked: save the new text as v3"
    ]


def test_changed_message_names_the_next_free_version() -> None:
    assert lock.changed_message("greeting", 1, 2) == (
        "prompt greeting v1 changed after it was locked: save the new text as v3"
    )
    assert lock.changed_message("greeting", 5, 3) == (
        "prompt greeting v5 changed after it was locked: save the new text as v6"
    )


def test_check_reports_a_deleted_locked_file(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    (root / "greeting" / "v2.txt").unlink()
    assert lock.check(store) == [
        f"prompt greeting v2 was locked but its file is gone: restore it, or remove its line "
        f"from {root / 'prompts.lock'}"
    ]


def test_check_reports_a_deleted_prompt_folder(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    write(root / "other" / "v1.txt", "x")
    lock.update(store)
    (root / "other" / "v1.txt").unlink()
    (root / "other").rmdir()
    assert lock.check(store) == [
        f"prompt other v1 was locked but its file is gone: restore it, or remove its line "
        f"from {root / 'prompts.lock'}"
    ]


def test_check_reports_a_folder_it_cannot_read_once(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    write(root / "greeting" / "v3.txt", "a")
    write(root / "greeting" / "v3.md", "b")
    assert lock.check(store) == [
        f"{root / 'greeting'}: two files for version 3: v3.md and v3.txt; keep one file per version"
    ]


def test_check_with_a_bad_version_file_does_not_call_locked_files_gone(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    bad = write(root / "greeting" / "v3.json", "{}")
    # v1.txt and v2.txt are still there: only the unreadable file is reported
    assert lock.check(store) == [
        f"{bad}: unsupported prompt file extension '.json'; use .txt or .md for a text "
        "template, .yaml for a chat template or metadata"
    ]


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ("this is not an entry", "'this is not an entry'"),
        ("greeting v1 abc123", "'greeting v1 abc123'"),
        ("greeting 1 " + "a" * 64, "'greeting 1 " + "a" * 64 + "'"),
        ("x" * 100, "'" + "x" * 80 + "'"),
    ],
)
def test_malformed_lock_line(tmp_path: Path, entry: str, shown: str) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    lock_path = root / "prompts.lock"
    good = lock_entries(root)[0]
    write(lock_path, f"# comment\n\n{good}\n   {entry}  \n")
    expected = (
        f"{lock_path}:4: not a lock entry: {shown}; entries read 'name v3 <sha256>'; fix the "
        "line or delete the file and run pytest --genai-lock-prompts"
    )
    with pytest.raises(PromptError) as info:
        lock.read_lock(lock_path)
    assert str(info.value) == expected
    assert (info.value.source, info.value.line) == (str(lock_path), 4)
    assert lock.check(store) == [expected]
    with pytest.raises(PromptError, match="not a lock entry"):
        lock.update(store)


def test_update_never_relocks_a_changed_version(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    locked_v1 = sha256(root / "greeting" / "v1.txt")
    write(root / "greeting" / "v1.txt", "Changed {{ name }} text\n")
    before = (root / "prompts.lock").read_bytes()
    assert lock.update(store) == []
    assert (root / "prompts.lock").read_bytes() == before
    write(root / "greeting" / "v3.txt", "Hey {{ name }}\n")
    assert lock.update(store) == ["greeting v3"]
    assert lock.read_lock(root / "prompts.lock")[("greeting", 1)] == locked_v1
    assert lock.check(store) == [
        "prompt greeting v1 changed after it was locked: save the new text as v4"
    ]


def test_check_lock_store_refuses_a_changed_locked_version(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    path = write(root / "greeting" / "v1.txt", "Hello there {{ name }}!\n")
    strict = PromptStore(root, check_lock=True)
    with pytest.raises(PromptError) as info:
        strict.load("greeting@1")
    assert str(info.value) == (
        f"{path}: prompt greeting v1 changed after it was locked: save the new text as v3"
    )
    assert info.value.source == str(path)
    # unchanged and unlocked versions load; so does everything without check_lock
    assert strict.load("greeting").version == 2
    write(root / "greeting" / "v3.txt", "new")
    assert strict.load("greeting@3").template == "new"
    assert PromptStore(root).load("greeting@1").template == "Hello there {{ name }}!\n"


def test_check_lock_store_refuses_a_changed_version_loaded_by_alias(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    write(root / "greeting" / "aliases.yaml", "production: 1\n")
    lock.update(store)
    write(root / "greeting" / "v1.txt", "edited {{ name }}")
    with pytest.raises(PromptError, match="prompt greeting v1 changed after it was locked"):
        PromptStore(root, check_lock=True).load("greeting@production")


def test_check_lock_store_sees_the_lock_being_written(tmp_path: Path) -> None:
    _, root = lock_dir(tmp_path)
    strict = PromptStore(root, check_lock=True)
    assert strict.load("greeting@1").version == 1  # no lock yet
    lock.update(PromptStore(root))
    write(root / "greeting" / "v1.txt", "edited {{ name }}")
    with pytest.raises(PromptError, match="changed after it was locked"):
        strict.load("greeting@1")


def test_at_session_start_with_lock_creates_it(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    assert lock.at_session_start(store, lock=True, snapshot_update=False) == (
        [],
        ["greeting v1", "greeting v2"],
    )
    assert len(lock_entries(root)) == 2
    assert lock.at_session_start(store, lock=True, snapshot_update=False) == ([], [])


def test_at_session_start_snapshot_update_only_updates_an_existing_lock(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    assert lock.at_session_start(store, lock=False, snapshot_update=True) == ([], [])
    assert not (root / "prompts.lock").exists()
    lock.update(store)
    write(root / "greeting" / "v3.txt", "Hey\n")
    assert lock.at_session_start(store, lock=False, snapshot_update=True) == (
        [],
        ["greeting v3"],
    )
    assert lock_entries(root)[-1] == f"greeting v3 {sha256(root / 'greeting' / 'v3.txt')}"


def test_at_session_start_without_flags_only_checks(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    before = (root / "prompts.lock").read_bytes()
    write(root / "greeting" / "v3.txt", "Hey\n")
    assert lock.at_session_start(store, lock=False, snapshot_update=False) == ([], [])
    write(root / "greeting" / "v2.txt", "changed {{ name }}\n")
    assert lock.at_session_start(store, lock=False, snapshot_update=False) == (
        ["prompt greeting v2 changed after it was locked: save the new text as v4"],
        [],
    )
    assert (root / "prompts.lock").read_bytes() == before


def test_at_session_start_reports_changed_versions_after_adding_new_ones(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock.update(store)
    write(root / "greeting" / "v1.txt", "changed {{ name }}\n")
    write(root / "greeting" / "v3.txt", "Hey\n")
    assert lock.at_session_start(store, lock=True, snapshot_update=False) == (
        ["prompt greeting v1 changed after it was locked: save the new text as v4"],
        ["greeting v3"],
    )


def test_at_session_start_with_a_malformed_lock(tmp_path: Path) -> None:
    store, root = lock_dir(tmp_path)
    lock_path = write(root / "prompts.lock", "garbage\n")
    problems, added = lock.at_session_start(store, lock=True, snapshot_update=False)
    assert added == []
    assert problems == [
        f"{lock_path}:1: not a lock entry: 'garbage'; entries read 'name v3 <sha256>'; fix "
        "the line or delete the file and run pytest --genai-lock-prompts"
    ]
    assert lock_path.read_text(encoding="utf-8") == "garbage\n"


# -- snapshots.py: pure parts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name"),
    [("exact", "exact"), (" EXACT ", "exact"), ("whitespace", "whitespace")],
)
def test_comparator_exact_and_whitespace_names(spec: str, name: str) -> None:
    assert comparator(spec)[0] == name


def test_exact_comparator() -> None:
    assert comparator("exact") == ("exact", exact)
    _, compare = comparator("exact")
    assert compare("a b", "a b") == Comparison(True, "identical")
    assert compare("a b", "a  b") == Comparison(False, "the texts differ")


def test_whitespace_comparator() -> None:
    _, compare = comparator("whitespace")
    assert compare is whitespace
    assert compare("a  b\n", " a b") == Comparison(True, "identical once whitespace is normalised")
    assert compare("a b", "ab") == Comparison(False, "the texts differ beyond whitespace")


@pytest.mark.parametrize("spec", ["judge", "equivalent", "Equivalence"])
def test_judge_comparator_names(spec: str) -> None:
    assert comparator(spec) == ("judge", judge_equivalence)


def test_similarity_comparator_default_threshold() -> None:
    name, compare = comparator("similarity")
    assert name == "similarity>=0.9"
    assert compare("abcdefghij", "abcdefghiX") == Comparison(
        True, "similarity 0.900 >= 0.9", score=0.9
    )
    assert compare("abcdefghij", "abcdefghXY") == Comparison(
        False, "similarity 0.800 < 0.9", score=0.8
    )
    # whitespace is normalised before comparing
    assert compare("a   b\n", "a b") == Comparison(True, "similarity 1.000 >= 0.9", score=1.0)


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("similarity>=0.8", "similarity>=0.8"),
        ("similarity >= 0.8", "similarity>=0.8"),
        ("similarity>=.5", "similarity>=0.5"),
        ("similarity>=1", "similarity>=1"),
        ("similarity>=0", "similarity>=0"),
    ],
)
def test_similarity_comparator_with_threshold(spec: str, name: str) -> None:
    assert comparator(spec)[0] == name


def test_similarity_threshold_decides() -> None:
    _, compare = comparator("similarity>=0.8")
    assert compare("abcde", "abcdX") == Comparison(True, "similarity 0.800 >= 0.8", score=0.8)
    assert compare("abcde", "abcXY") == Comparison(False, "similarity 0.600 < 0.8", score=0.6)


def test_similarity_threshold_out_of_range() -> None:
    with pytest.raises(ValueError, match="similarity threshold") as info:
        comparator("similarity>=1.5")
    assert str(info.value) == "similarity threshold 1.5 is not between 0 and 1"


UNKNOWN = "use 'exact', 'whitespace', 'similarity>=0.9', 'judge' or a function(old, new)"


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("fuzzy", "'fuzzy'"),
        ("similarity>0.8", "'similarity>0.8'"),
        ("similarity>=-0.1", "'similarity>=-0.1'"),
        ("similarity>=abc", "'similarity>=abc'"),
        ("", "''"),
        (42, "42"),
    ],
)
def test_unknown_comparator(spec: Any, shown: str) -> None:
    with pytest.raises(ValueError, match="unknown snapshot comparator") as info:
        comparator(spec)
    assert str(info.value) == f"unknown snapshot comparator {shown}: {UNKNOWN}"


def test_custom_comparator_returning_bool() -> None:
    def same_length(old: str, new: str) -> bool:
        return len(old) == len(new)

    name, compare = comparator(same_length)
    assert name == "same_length"
    assert compare("ab", "cd") == Comparison(True, "the comparator said yes")
    assert compare("ab", "c") == Comparison(False, "the comparator said no")


def test_custom_comparator_returning_a_pair() -> None:
    calls: list[tuple[str, str]] = []

    def pair(old: str, new: str) -> tuple[int, int]:
        calls.append((old, new))
        return (0, 42)

    name, compare = comparator(pair)
    assert name == "pair"
    assert compare("old", "new") == Comparison(False, "42")
    assert calls == [("old", "new")]
    assert comparator(lambda old, new: (True, "close enough"))[1]("a", "b") == Comparison(
        True, "close enough"
    )
    assert comparator(lambda old, new: True)[0] == "<lambda>"


def test_custom_comparator_returning_a_comparison() -> None:
    answer = Comparison(False, "too different", score=0.3)
    _, compare = comparator(lambda old, new: answer)
    assert compare("a", "b") is answer


def test_callable_object_comparator_is_named_custom() -> None:
    class Always:
        def __call__(self, old: str, new: str) -> bool:
            return True

    name, compare = comparator(Always())
    assert name == "custom"
    assert compare("a", "b").matched is True


@pytest.mark.parametrize(
    ("answer", "shown"), [(None, "None"), (1, "1"), ((True, "a", "b"), "(True, 'a', 'b')")]
)
def test_custom_comparator_returning_something_else(answer: Any, shown: str) -> None:
    def bad(old: str, new: str) -> Any:
        return answer

    _, compare = comparator(bad)
    with pytest.raises(TypeError) as info:
        compare("a", "b")
    assert str(info.value) == (
        f"comparator 'bad' returned {shown}; return a bool, (bool, rationale) or a Comparison"
    )


def test_messages_text() -> None:
    messages = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi\nthere"},
        {"content": "no role"},
    ]
    assert messages_text(messages) == (
        "=== system ===\nBe kind.\n\n=== user ===\nHi\nthere\n\n=== ? ===\nno role\n"
    )
    assert messages_text(chat_prompt().format(lang="en", style="s", question="q")) == (
        "=== system ===\nAnswer in en. s\n\n=== user ===\nq (en)\n"
    )


@pytest.mark.parametrize(
    ("item", "shown"), [("oops", "'oops'"), ({"role": "user"}, "{'role': 'user'}")]
)
def test_messages_text_rejects_other_items(item: Any, shown: str) -> None:
    with pytest.raises(TypeError) as info:
        messages_text([{"role": "user", "content": "ok"}, item])
    assert str(info.value) == (
        "a prompt snapshot holds text or a list of {'role', 'content'} messages, got an item "
        + shown
    )


def test_output_text() -> None:
    assert output_text("as it is\n") == "as it is\n"
    rendered = text_prompt().format(name="A", team={"name": "B"})
    text = output_text(rendered)
    assert text == "Hello A, from B!"
    assert type(text) is str
    assert output_text({"b": [1, {"z": 2, "a": "é"}], "a": None}) == (
        '{\n  "a": null,\n  "b": [\n    1,\n    {\n      "a": "é",\n      "z": 2\n    }\n  ]\n}\n'
    )
    assert output_text([1, "two"]) == '[\n  1,\n  "two"\n]\n'
    assert output_text(3) == "3\n"


def test_prompt_index_names_the_snapshot_after_prompt_and_version() -> None:
    rendered = text_prompt().format(name="A", team={"name": "B"})
    assert _prompt_index(rendered, None) == "greeting-v2"
    assert _prompt_index(rendered, "second") == "greeting-v2-second"
    messages = chat_prompt().format(lang="en", style="s", question="q")
    assert _prompt_index(messages, "") == "support-v4"
    assert _prompt_index("plain text", "x") is None


# -- lineage.py ---------------------------------------------------------------------------------


def test_note_use_without_a_running_test_does_nothing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(current, "_running", [])
    assert current.current_item() is None
    prompt = text_prompt()
    assert note_use(prompt) is None
    assert prompt.format(name="A", team={"name": "B"}) == "Hello A, from B!"
    assert PROMPTS_KEY not in request.node.stash


def test_note_use_records_on_the_running_test(request: pytest.FixtureRequest) -> None:
    prompt = text_prompt()
    note_use(prompt)
    note_use(prompt)
    note_use(prompt.with_alias("production"))
    assert request.node.stash[PROMPTS_KEY] == {
        ("greeting", 2, None): PromptUse(name="greeting", version=2, digest="d" * 64),
        ("greeting", 2, "production"): PromptUse(
            name="greeting", version=2, alias="production", digest="d" * 64
        ),
    }


def test_loading_and_rendering_record_lineage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root = greeting_dir(tmp_path)
    load_prompt("greeting@production", prompts_dir=root)
    farewell = PromptStore(root).load("farewell")  # the store alone records nothing
    used = request.node.stash[PROMPTS_KEY]
    assert list(used) == [("greeting", 2, "production")]
    assert used[("greeting", 2, "production")].digest == sha256(root / "greeting" / "v2.md")
    farewell.format(name="Ana")
    assert list(used) == [("greeting", 2, "production"), ("farewell", 1, None)]
    assert used[("farewell", 1, None)].label == "farewell v1"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> trace_api.Tracer:
    """A tracer of a provider of this test's own, not the global one."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test_prompts")


def test_note_use_sets_span_attributes(
    tracer: trace_api.Tracer, exporter: InMemorySpanExporter
) -> None:
    prompt = text_prompt().with_alias("production")
    with tracer.start_as_current_span("app"):
        note_use(prompt)
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {
        lineage.NAME: "greeting",
        lineage.VERSION: 2,
        lineage.DIGEST: "d" * 64,
        lineage.URI: "prompts:/greeting/2",
        lineage.ALIAS: "production",
    }
    assert lineage.NAME == "genai.prompt.name"
    assert lineage.VERSION == "genai.prompt.version"
    assert lineage.DIGEST == "genai.prompt.digest"
    assert lineage.URI == "genai.prompt.uri"
    assert lineage.ALIAS == "genai.prompt.alias"


def test_rendering_in_a_span_sets_attributes_without_alias(
    tracer: trace_api.Tracer, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    root = greeting_dir(tmp_path)
    prompt = PromptStore(root).load("greeting@1")
    with tracer.start_as_current_span("app"):
        prompt.format(name="Ana")
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {
        "genai.prompt.name": "greeting",
        "genai.prompt.version": 1,
        "genai.prompt.digest": sha256(root / "greeting" / "v1.txt"),
        "genai.prompt.uri": "prompts:/greeting/1",
    }


def test_note_use_outside_a_span_or_in_a_non_recording_one(
    tracer: trace_api.Tracer, exporter: InMemorySpanExporter
) -> None:
    prompt = text_prompt()
    assert not trace_api.get_current_span().is_recording()
    note_use(prompt)
    with trace_api.use_span(trace_api.NonRecordingSpan(trace_api.INVALID_SPAN_CONTEXT)):
        note_use(prompt)
    with tracer.start_as_current_span("after"):
        pass
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {}


def test_a_non_utf8_aliases_file_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "hi")
    write(tmp_path / "p" / "aliases.yaml", b"production: 1 \xff\n")
    store = PromptStore(tmp_path)
    message = load_error(store, "p@production")
    assert message.startswith(f"{tmp_path / 'p' / 'aliases.yaml'}: not UTF-8 text")


def test_the_runs_directory_named_explicitly_still_checks_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "prompts" / "p" / "v1.txt", "hi")
    lock.update(PromptStore(tmp_path / "prompts"))
    write(tmp_path / "prompts" / "p" / "v1.txt", "hello")
    monkeypatch.setattr(store_module, "prompt_dirs", [(tmp_path / "prompts", True)])
    monkeypatch.setattr(store_module, "_stores", {})
    with pytest.raises(PromptError, match="changed after it was locked"):
        load_prompt("p", prompts_dir=tmp_path / "prompts")
    # another directory is not the run's: not checked
    write(tmp_path / "other" / "p" / "v1.txt", "hi")
    lock.update(PromptStore(tmp_path / "other"))
    write(tmp_path / "other" / "p" / "v1.txt", "hello")
    assert load_prompt("p", prompts_dir=tmp_path / "other").template == "hello"


def _case(case_id: str, *versions: int, passed: bool = True) -> Any:
    from pytest_genai.results import CaseResult, Feedback

    return CaseResult(
        nodeid=f"t.py::test[{case_id}]",
        suite="t.py::test",
        case_id=case_id,
        feedback=[Feedback(name="ok", value=passed, passed=passed)],
        prompts=[PromptUse(name="greet", version=v, digest="d") for v in versions],
    )


def test_rows_split_only_where_a_suite_used_different_versions() -> None:
    from pytest_genai.report.aggregate import aggregate

    # one version, recorded on one case only (a shared fixture rendered it): one row
    rows = aggregate([_case("a", 1), _case("b"), _case("c")])
    assert [(r.prompts, r.cases) for r in rows] == [("greet v1", 3)]
    # two versions: a row each, in version order (v2 before v10)
    rows = aggregate([_case("a", 10), _case("b", 2), _case("c", 2)])
    assert [(r.prompts, r.cases) for r in rows] == [("greet v2", 2), ("greet v10", 1)]


def test_junit_suite_properties_of_split_rows_are_apart() -> None:
    from pytest_genai.report.aggregate import aggregate, totals
    from pytest_genai.report.junit import suite_properties

    cases = [_case("a", 1), _case("b", 2, passed=False)]
    names = [name for name, _ in suite_properties(aggregate(cases), totals(cases))]
    assert len(names) == len(set(names))
    assert "genai.t.py::test[greet v1].ok.pass_rate" in names
    assert "genai.t.py::test[greet v2].ok.pass_rate" in names
