"""Versioned generation prompts on disk: one history per evolution direction or question type.

This module owns the prompt store of a run directory (``RUN/prompts/``)::

    prompts/<name>/v1.txt, v2.txt, ...   the full text of every version (never rewritten)
    prompts/<name>/versions.jsonl        one ``PromptVersion`` per line: parent, author, reason,
                                         the reviews that motivated it, sha256 of the text
    prompts/<name>/failures.jsonl        revisions that an LLM was asked for and did not deliver

``name`` is an evolution direction (``perception``, ``reasoning``, ``interactive``) or a closed
loop question type (``counting``, ``ocr``, ...). The newest version of a name is its current
one. A direction's current version replaces the bundled template in ``mmevol evolve`` runs of
that directory, and its id (``perception/v2@<hash>``) is written into every sample's
``lineage.prompt_version``. Texts are checked before they are stored: the ``=== user ===``
separator, the ``{{context}}`` block in the user part and no unknown placeholder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmevol.errors import InputError, MmevolError
from mmevol.fsutil import atomic_writer
from mmevol.prompts import PLACEHOLDER_RE, Template, load_template
from mmevol.prompts.directions import (
    MAX_CUSTOM,
    SPECS_FILE,
    DirectionSpec,
    read_specs,
    specs_json,
)
from mmevol.schema import DIRECTIONS

STORE_DIR = "prompts"
SEPARATOR = "=== user ==="
DIRECTION_FILLS = (
    "context", "skills", "manipulations", "formats", "given", "evidence", "evidence_short"
)  # fmt: skip
MIN_PROMPT_CHARS = 40
MAX_PROMPT_CHARS = 40_000


def question_types() -> tuple[str, ...]:
    """The closed loop's question types (imported late: the loop pulls in image code)."""
    from mmevol.world.questions import QTYPES

    return QTYPES


def prompt_names() -> tuple[str, ...]:
    """Directions first; a loop type named like a direction (``reasoning``) shares its prompt."""
    return tuple(dict.fromkeys((*DIRECTIONS, *question_types())))


def kind_of(name: str, custom: Collection[str] = ()) -> Literal["direction", "question_type"]:
    """What a prompt name is (``custom``: the custom directions known where it is used)."""
    if name in DIRECTIONS or name in custom:
        return "direction"
    if name in question_types():
        return "question_type"
    known = ", ".join((*prompt_names(), *custom))
    raise MmevolError(f"unknown prompt {name!r}; known: {known}")


def allowed_placeholders(name: str, custom: Collection[str] = ()) -> tuple[str, ...]:
    return DIRECTION_FILLS if kind_of(name, custom) == "direction" else ("context",)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_prompt(name: str, text: str, custom: Collection[str] = ()) -> None:
    """Raise ``ValueError`` saying what is wrong with a prompt text for ``name``."""
    if not MIN_PROMPT_CHARS <= len(text.strip()) <= MAX_PROMPT_CHARS:
        raise ValueError(f"a prompt needs {MIN_PROMPT_CHARS}..{MAX_PROMPT_CHARS} characters")
    if text.count(SEPARATOR) != 1:
        raise ValueError(f"a prompt needs exactly one '{SEPARATOR}' line (system part above it)")
    system, user = text.split(SEPARATOR, 1)
    if not system.strip() or not user.strip():
        raise ValueError(f"both the system part and the user part around '{SEPARATOR}' are needed")
    allowed = allowed_placeholders(name, custom)
    unknown = sorted({m for m in PLACEHOLDER_RE.findall(text)} - set(allowed))
    if unknown:
        shown = ", ".join("{{" + u + "}}" for u in unknown)
        raise ValueError(f"unknown placeholder(s) {shown}; {name} may use {_braces(allowed)}")
    if "context" not in PLACEHOLDER_RE.findall(user):
        raise ValueError("the user part must contain {{context}} (the sample's symbolic data)")


def _braces(names: tuple[str, ...]) -> str:
    return ", ".join("{{" + n + "}}" for n in names)


class ReviewRef(BaseModel):
    """One review that motivated a revision (a sample's verdict, or a note on a whole type)."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str | None = None
    question_type: str | None = None
    verdict: Literal["good", "bad"]
    note: str = ""
    source: str = ""


class PromptVersion(BaseModel):
    """One line of ``versions.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = Field(ge=1)
    parent: int | None = None
    author: Literal["user", "llm", "bundled"]
    reason: str = ""
    reviews: list[ReviewRef] = Field(default_factory=list)
    content_hash: str
    backend: str | None = None
    model: str | None = None
    created: float
    # what an LLM revision cost, over its calls (a re-ask included); zero for people's edits
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.name}/v{self.version}"

    @property
    def tag(self) -> str:
        """What samples record in ``lineage.prompt_version``."""
        return f"{self.id}@{self.content_hash[:10]}"


class PromptStore:
    """The prompt histories under one folder (normally ``RUN_DIR/prompts``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def of_run(cls, run_dir: Path) -> PromptStore:
        return cls(Path(run_dir) / STORE_DIR)

    def _dir(self, name: str) -> Path:
        kind_of(name, self.custom())
        return self.root / name

    def custom(self) -> dict[str, DirectionSpec]:
        """The custom directions this store declares (``prompts.directions``)."""
        return read_specs(self.root)

    def names(self) -> list[str]:
        """Names that have at least one version, in the canonical order (custom directions
        after the built-in ones)."""
        names = [*prompt_names(), *sorted(self.custom())]
        return [n for n in names if (self.root / n / "versions.jsonl").is_file()]

    def add_direction(self, spec: DirectionSpec, text: str) -> PromptVersion:
        """Declare a custom direction and store ``text`` as its first version."""
        specs = self.custom()
        if len(specs) >= MAX_CUSTOM:
            raise MmevolError(f"{self.root}: already {len(specs)} custom directions (at most "
                              f"{MAX_CUSTOM})")  # fmt: skip
        if spec.name in specs:
            raise MmevolError(f"{self.root}: direction {spec.name!r} exists; change its prompt "
                              "with `mmevol prompts edit`")  # fmt: skip
        try:
            check_prompt(spec.name, text, custom=(spec.name,))
        except ValueError as e:
            raise MmevolError(f"prompt {spec.name!r}: {e}") from None
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_writer(self.root / SPECS_FILE) as fh:
            fh.write(specs_json({**specs, spec.name: spec}))
        return self.add(spec.name, text, author="user", reason=f"new direction: {spec.goal}")

    def versions(self, name: str) -> list[PromptVersion]:
        path = self._dir(name) / "versions.jsonl"
        if not path.is_file():
            return []
        out: list[PromptVersion] = []
        for i, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(PromptVersion.model_validate_json(line))
            except ValidationError as e:
                first = e.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                raise InputError(path, f"line {i}: {where}", first["msg"]) from None
            if out[-1].version != len(out) or out[-1].name != name:
                raise InputError(path, f"line {i}", f"expected {name} version {len(out)}")
        return out

    def current(self, name: str) -> PromptVersion | None:
        found = self.versions(name)
        return found[-1] if found else None

    def get(self, name: str, version: int | None = None) -> PromptVersion:
        found = self.versions(name)
        if not found:
            raise MmevolError(f"{self.root}: no versions of prompt {name!r} yet")
        if version is None:
            return found[-1]
        if not 1 <= version <= len(found):
            raise MmevolError(f"prompt {name!r} has versions 1..{len(found)}, not {version}")
        return found[version - 1]

    def text(self, v: PromptVersion) -> str:
        """The stored text of a version, checked against its recorded hash."""
        path = self._dir(v.name) / f"v{v.version}.txt"
        if not path.is_file():
            raise InputError(path, None, f"missing (recorded in {v.name}/versions.jsonl)")
        text = path.read_text("utf-8")
        if content_hash(text) != v.content_hash:
            raise InputError(
                path, None, "changed after it was recorded (hash mismatch); "
                "make a new version with `mmevol prompts edit` instead of editing the file"
            )  # fmt: skip
        return text

    def add(
        self,
        name: str,
        text: str,
        *,
        author: Literal["user", "llm", "bundled"],
        reason: str,
        reviews: list[ReviewRef] | None = None,
        backend: str | None = None,
        model: str | None = None,
        usage: tuple[int, int, float] = (0, 0, 0.0),
        expected_parent: int | None = None,
    ) -> PromptVersion:
        """Check and store a new version; it becomes the current one (``usage``: input
        tokens, output tokens and cost of the calls that wrote it). One writer at a time (a
        lock file); with ``expected_parent``, refused when another version was stored since."""
        try:
            check_prompt(name, text, self.custom())
        except ValueError as e:
            raise MmevolError(f"prompt {name!r}: {e}") from None
        with self._locked(name):
            return self._add_locked(
                name, text, author, reason, reviews, backend, model, usage, expected_parent
            )

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _add_locked(
        self,
        name: str,
        text: str,
        author: Literal["user", "llm", "bundled"],
        reason: str,
        reviews: list[ReviewRef] | None,
        backend: str | None,
        model: str | None,
        usage: tuple[int, int, float],
        expected_parent: int | None,
    ) -> PromptVersion:
        history = self.versions(name)
        parent = history[-1] if history else None
        if expected_parent is not None and (parent is None or parent.version != expected_parent):
            now = parent.id if parent else "none"
            raise MmevolError(
                f"prompt {name!r} changed while the revision was being written (current: {now},"
                f" revised: v{expected_parent}); run `mmevol prompts revise` again"
            )
        if parent is not None and content_hash(text) == parent.content_hash:
            raise MmevolError(f"prompt {name!r}: the text is identical to {parent.id}")
        v = PromptVersion(
            name=name,
            version=len(history) + 1,
            parent=parent.version if parent else None,
            author=author,
            reason=reason.strip(),
            reviews=reviews or [],
            content_hash=content_hash(text),
            backend=backend,
            model=model,
            created=round(time.time(), 3),
            input_tokens=usage[0],
            output_tokens=usage[1],
            cost_usd=round(usage[2], 6),
        )
        folder = self._dir(name)
        with atomic_writer(folder / f"v{v.version}.txt") as fh:
            fh.write(text)
        with atomic_writer(folder / "versions.jsonl") as fh:  # the record makes it current
            for row in [*history, v]:
                fh.write(row.model_dump_json() + "\n")
        return v

    def record_failure(self, name: str, record: dict[str, object]) -> Path:
        """Append a failed revision attempt to ``<name>/failures.jsonl`` (atomically)."""
        path = self._dir(name) / "failures.jsonl"
        old = path.read_text("utf-8") if path.is_file() else ""
        with atomic_writer(path) as fh:
            fh.write(old + json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    def init_bundled(self) -> list[PromptVersion]:
        """Make the bundled direction templates v1 of every direction that has no version."""
        made = []
        for d in DIRECTIONS:
            if not self.versions(d):
                text = load_template(d).text
                made.append(self.add(d, text, author="bundled", reason="bundled template"))
        return made

    def copy_to(self, other: PromptStore) -> None:
        """Give an empty store the full histories of this one (to start a new run with them)."""
        if other.root.exists() and any(other.root.iterdir()):
            raise MmevolError(f"{other.root}: already has prompts; refusing to overwrite them")
        for name in self.names():
            for v in self.versions(name):
                self.text(v)  # refuse to carry a tampered history
        other.root.parent.mkdir(parents=True, exist_ok=True)
        tmp = other.root.with_name(f".{other.root.name}.copy")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(self.root, tmp, ignore=shutil.ignore_patterns("failures.jsonl", ".*"))
        if other.root.exists():
            other.root.rmdir()
        tmp.rename(other.root)

    def template(self, name: str) -> Template | None:
        """The current version of ``name`` as a renderable template (None without versions)."""
        v = self.current(name)
        if v is None:
            return None
        t = Template(name, self.text(v))
        t.version = v.tag
        return t


def active_templates(run_dir: Path) -> dict[str, Template]:
    """The direction templates a run directory's prompt store overrides (empty without one)."""
    store = PromptStore.of_run(run_dir)
    if not store.root.is_dir():
        return {}
    out: dict[str, Template] = {}
    custom = store.custom()
    for d in (*DIRECTIONS, *sorted(custom)):
        t = store.template(d)
        if t is not None:
            t.like = custom[d].like if d in custom else None
            out[d] = t
    return out


def name_of_version(tag: str | None) -> str | None:
    """The prompt name in a lineage tag: ``perception/v2@ab..`` or bundled ``perception@ab..``."""
    if not tag:
        return None
    return tag.split("@", 1)[0].split("/", 1)[0]
