"""`prompts.lock`: the digest of every published prompt version, so none changes silently.

One line per version, sorted: `name v3 <sha256>`. `--genai-lock-prompts` (and syrupy's
`--snapshot-update`) add the versions that are not locked yet; they never re-lock a version
whose file changed, since whatever was evaluated against it would no longer be what the file
says. New versions and aliases are always free.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_genai.errors import PromptError
from pytest_genai.files import write_atomic
from pytest_genai.prompts.store import PromptStore, digest_of

_HEADER = (
    "# pytest-genai prompt lock: the sha256 of each published prompt version.\n"
    "# Written by `pytest --genai-lock-prompts`. A locked version must not change: save new\n"
    "# text as a new version file instead.\n"
)
_LINE = re.compile(r"(\S+) v(\d+) ([0-9a-f]{64})")


def changed_message(name: str, version: int, newest: int) -> str:
    return (
        f"prompt {name} v{version} changed after it was locked: save the new text as "
        f"v{max(newest, version) + 1}"
    )


def read_lock(path: Path) -> dict[tuple[str, int], str]:
    """(name, version) -> digest; `PromptError` names the line of a malformed entry."""
    locked: dict[tuple[str, int], str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(
            f"can't be read ({exc})",
            source=str(path),
            fix="restore it from version control, or delete it and run pytest --genai-lock-prompts",
        ) from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise PromptError(
                f"not a lock entry: {line[:80]!r}",
                source=str(path),
                line=number,
                fix="entries read 'name v3 <sha256>'; fix the line or delete the file and "
                "run pytest --genai-lock-prompts",
            )
        locked[(match.group(1), int(match.group(2)))] = match.group(3)
    return locked


def current_digests(store: PromptStore) -> tuple[dict[tuple[str, int], str], list[PromptError]]:
    """The digest of every version file now in the directory, and the problems found reading
    it (a bad folder doesn't stop the others being checked)."""
    digests: dict[tuple[str, int], str] = {}
    problems: list[PromptError] = []
    for name in store.names():
        try:
            versions = store.versions(name)
        except PromptError as exc:
            problems.append(exc)
            continue
        for version, path in versions.items():
            try:
                digests[(name, version)] = digest_of(path.read_bytes())
            except OSError as exc:
                problems.append(PromptError(f"can't be read ({exc})", source=str(path)))
    return digests, problems


def check(store: PromptStore) -> list[str]:
    """Every locked version whose file changed or is gone (empty when there is no lock)."""
    try:
        locked = store.locked()
    except PromptError as exc:
        return [str(exc)]
    if not locked:
        return []
    digests, problems = current_digests(store)
    messages = [str(p) for p in problems]
    newest: dict[str, int] = {}
    for name, version in digests:
        newest[name] = max(newest.get(name, 0), version)
    for (name, version), digest in sorted(locked.items()):
        now = digests.get((name, version))
        if now is None:
            if any(p.source and name in Path(p.source).parts[-2:] for p in problems):
                continue  # its folder could not be read: reported as it is
            messages.append(
                f"prompt {name} v{version} was locked but its file is gone: restore it, or "
                f"remove its line from {store.lock_path}"
            )
        elif now != digest:
            messages.append(changed_message(name, version, newest.get(name, version)))
    return messages


def update(store: PromptStore) -> list[str]:
    """Add every unlocked version to the lock (creating it); return what was added as
    `name vN` texts. Changed locked versions are left as they were (and `check` reports them)."""
    if not store.root.is_dir():
        return []
    locked = store.locked()
    digests, _ = current_digests(store)
    added = sorted(key for key in digests if key not in locked)
    if not added and store.lock_path.exists():
        return []
    entries = dict(locked)
    entries.update({key: digests[key] for key in added})
    lines = [f"{name} v{version} {digest}" for (name, version), digest in sorted(entries.items())]
    write_atomic(store.lock_path, _HEADER + "".join(line + "\n" for line in lines))
    return [f"{name} v{version}" for name, version in added]


def at_session_start(
    store: PromptStore, *, lock: bool, snapshot_update: bool
) -> tuple[list[str], list[str]]:
    """What the controller does as a run starts: add new versions to the lock when asked
    (`--genai-lock-prompts`, or `--snapshot-update` where a lock exists), then check every
    locked version. Returns (problems, versions added)."""
    added: list[str] = []
    try:
        if lock or (snapshot_update and store.lock_path.exists()):
            added = update(store)
    except PromptError as exc:
        return [str(exc)], []
    except OSError as exc:
        return [f"could not write {store.lock_path}: {exc}"], []
    return check(store), added
