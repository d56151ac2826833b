"""The evolve stage's configuration, saved as ``config.json`` beside the run's outputs.

``identity()`` holds the settings that decide what the run produces; re-running into an existing
run directory with a different identity is refused, while operational settings (rounds to
extend to, concurrency, limits, budget) may change between a run and its resumption.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mmevol import __version__
from mmevol.backends.base import backend_factory
from mmevol.backends.options import accepted_options
from mmevol.backends.secrets import public_url
from mmevol.errors import InputError
from mmevol.schema import DIRECTION_NAME, DIRECTIONS

LATER_DEFAULTS: dict[str, Any] = {"fact_check": True}
OPERATIONAL = {
    "rounds",
    "concurrency",
    "rpm",
    "tpm",
    "timeout_s",
    "max_cost",
    "max_error_rate",
    "min_units_for_error_rate",
    "progress",
    "out",
    "seeds",
    "prices_file",
    "engine",
    "ray_address",
    "ray_workers",
    "mode",
    "batch_poll_s",
    "batch_deadline_s",
    "preflight",
}

EngineName = Literal["local", "ray"]
ModeName = Literal["online", "batch", "hybrid"]


class BadCase(BaseModel):
    """A question the model in training answered wrongly (from ``mmevol loop``'s ABS)."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str
    model_answer: str


class Focus(BaseModel):
    """What a targeted round should aim at: a question type and its bad cases, which reach the
    model as in-context examples in every evolve call's context (``focus``)."""

    model_config = ConfigDict(extra="forbid")

    question_type: str
    bad_cases: list[BadCase] = Field(default_factory=list, max_length=16)
    # how to ask this type of question: the run's current prompt version for the type
    # (``mmevol prompts edit|revise TYPE``), when it has one
    guidance: str = ""


def load_focus(path: Path, question_type: str | None) -> Focus:
    """``--focus FILE [--focus-type T]``: a ``Focus`` JSON, or a ``mmevol weights`` plan and the
    type whose bad cases to aim at."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise InputError(path, None, f"cannot read it ({e.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, None, f"not JSON ({e})") from None
    if isinstance(data, dict) and "per_type" in data:  # a plan of ``mmevol weights``
        types = list(data["per_type"]) if isinstance(data["per_type"], dict) else []
        if question_type not in types:
            raise InputError(
                path, "per_type", f"--focus-type must name one of its types: {', '.join(types)}"
            )
        cases = data.get("bad_cases", {})
        data = {"question_type": question_type, "bad_cases": cases.get(question_type, [])}
    elif question_type is not None and isinstance(data, dict):
        data = {**data, "question_type": question_type}
    try:
        return Focus.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or None
        raise InputError(path, where, first["msg"]) from None


class EvolveConfig(BaseModel):
    """Everything ``mmevol evolve`` needs; defaults follow the MMEvol authors where known."""

    seeds: str
    out: str
    rounds: int = Field(default=3, ge=1, le=20)
    seed: int = 0
    backend: str = "grounded"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    vision: bool = True
    detail: str = "low"
    image_long_side: int = 512
    json_mode: str = "auto"
    concurrency: int = Field(default=16, ge=1)
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float = 120.0
    temperature: float = 1.0
    judge_temperature: float = 0.0
    max_tokens: int = 2048
    direction_weights: dict[str, float] = Field(
        default_factory=lambda: {"perception": 0.5, "reasoning": 0.25, "interactive": 0.25}
    )
    min_judge_score: float = 0.0
    near_dup_threshold: float = 0.9
    reask: bool = True
    # check every evolved item's claims against the annotations before the judge (``facts``)
    fact_check: bool = True
    max_cost: float | None = None
    max_error_rate: float = 0.2
    min_units_for_error_rate: int = 20
    prices_file: str | None = None
    backend_options: dict[str, Any] = Field(default_factory=dict)
    progress: bool = True
    # ask the endpoint one cheap question before the run (``backends.preflight``)
    preflight: bool = True
    # where units run: this process (asyncio) or a Ray cluster (``mmevol.scale``); a run may
    # switch between them on resume, as both journal into the same run.sqlite
    engine: EngineName = "local"
    ray_address: str | None = None
    ray_workers: int | None = Field(default=None, ge=1)
    # how calls reach the endpoint: one request each, or through its Batch API
    # (``backends.batch``; replies and cache keys are the same, so a run may switch on resume)
    mode: ModeName = "online"
    batch_poll_s: float = Field(default=10.0, gt=0)
    batch_deadline_s: float = Field(default=3600.0, gt=0)
    # a targeted round (ABS): the question type to aim at and its bad cases
    focus: Focus | None = None

    @field_validator("direction_weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(d for d in v if d not in DIRECTIONS and not re.match(DIRECTION_NAME, d))
        if bad:
            raise ValueError(f"direction names {bad}: use {list(DIRECTIONS)} or a custom "
                             "direction's name (a-z, 0-9, _)")  # fmt: skip
        if any(not math.isfinite(w) or w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("direction weights must be finite numbers >= 0, not all zero")
        custom = {d: float(w) for d, w in sorted(v.items()) if d not in DIRECTIONS}
        return {**{d: float(v.get(d, 0.0)) for d in DIRECTIONS}, **custom}

    def custom_directions(self) -> list[str]:
        """The custom directions this run draws (weight above zero), by name."""
        return [d for d, w in self.direction_weights.items() if d not in DIRECTIONS and w > 0]

    def public_dump(self) -> dict[str, Any]:
        """The settings as they are recorded and shown: the base URL without the credentials
        it may carry (``backends.secrets.public_url``). Requests still use ``base_url``."""
        dump = self.model_dump(mode="json")
        if self.base_url:
            dump["base_url"] = public_url(self.base_url)
        return dump

    def identity(self) -> dict[str, Any]:
        """The settings that decide a run's data (settings added later count only when they
        differ from their default, so runs made before them still resume)."""
        return {
            k: v
            for k, v in self.public_dump().items()
            if k not in OPERATIONAL and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])
        }

    def backend_settings(self) -> dict[str, Any]:
        """Keyword arguments for ``make_backend`` (the API key is read there, from the env): the
        run's settings that the chosen backend takes (``--rpm`` means nothing to ``grounded``),
        then every ``--backend-option``, which the backend must accept (a misspelt one is an
        error naming it, not ignored)."""
        run_wide: dict[str, Any] = {
            key: getattr(self, field) for key, field in RUN_WIDE.items() if key in RUN_WIDE_ALWAYS
        }
        if self.model:
            run_wide["model"] = self.model
        if self.base_url:
            run_wide["base_url"] = self.base_url
        if self.prices_file:
            try:
                run_wide["prices"] = json.loads(Path(self.prices_file).read_text("utf-8"))
            except json.JSONDecodeError as e:
                raise InputError(self.prices_file, None, f"not valid JSON ({e})") from None
        accepted = accepted_options(backend_factory(self.backend))
        settings = {k: v for k, v in run_wide.items() if accepted is None or k in accepted}
        settings.update(self.backend_options)
        return settings


# backend option -> the EvolveConfig field (and so the ``mmevol evolve`` flag) that sets it
RUN_WIDE = {
    "seed": "seed",
    "vision": "vision",
    "detail": "detail",
    "image_long_side": "image_long_side",
    "json_mode": "json_mode",
    "concurrency": "concurrency",
    "rpm": "rpm",
    "tpm": "tpm",
    "timeout_s": "timeout_s",
    "api_key_env": "api_key_env",
    "model": "model",
    "base_url": "base_url",
    "prices": "prices_file",
}
RUN_WIDE_ALWAYS = frozenset(RUN_WIDE) - {"model", "base_url", "prices"}  # these: when given


def git_commit() -> str | None:
    """The commit of the source tree mmevol runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def config_record(config: EvolveConfig, backend_description: dict[str, Any]) -> dict[str, Any]:
    """The content of config.json: resolved config, backend, version, commit, identity hash."""
    identity = json.dumps(config.identity(), sort_keys=True)
    return {
        "mmevol_version": __version__,
        "git_commit": git_commit(),
        "identity_hash": hashlib.sha256(identity.encode()).hexdigest()[:16],
        "config": config.public_dump(),
        "backend": backend_description,
    }
