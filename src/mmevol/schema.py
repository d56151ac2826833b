"""The data model shared by every room: objects, Q&A items, seeds, verdicts, lineage, samples.

Every boundary of the pipeline (readers, backends, the engine, the store, exporters) speaks
these pydantic models. Boxes are always normalised ``[x1, y1, x2, y2]`` in 0..1 with three
decimals; readers convert from their source's convention before building an ``Obj``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

Direction = Literal["perception", "reasoning", "interactive"]
DIRECTIONS: tuple[Direction, ...] = ("perception", "reasoning", "interactive")
# a direction's name: a built-in one or a custom one (``mmevol.prompts.directions``)
DIRECTION_NAME = r"^[a-z][a-z0-9_]{1,31}$"
DirectionName = Annotated[str, StringConstraints(pattern=DIRECTION_NAME)]
ParentMatch = Literal["content", "unmatched"]


def round_box(box: list[float] | tuple[float, ...]) -> list[float]:
    """Round a normalised box to three decimals (the authors' precision)."""
    return [round(float(v), 3) for v in box]


def check_box(box: list[float] | tuple[float, ...]) -> list[float]:
    """Validate a normalised ``[x1, y1, x2, y2]`` box; raise ``ValueError`` saying what is wrong."""
    if len(box) != 4:
        raise ValueError(f"a box needs 4 numbers [x1, y1, x2, y2], got {len(box)}")
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(0.0 <= v <= 1.0 for v in (x1, y1, x2, y2)):
        raise ValueError(f"box {list(box)} is outside 0..1 (boxes must be normalised)")
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f"box {list(box)} is empty or inverted (need x1 < x2 and y1 < y2)")
    return round_box((x1, y1, x2, y2))


class Obj(BaseModel):
    """One annotated object: a category, an optional normalised box and optional attributes."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1)
    bbox: list[float] | None = None
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("bbox")
    @classmethod
    def _box(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else check_box(v)


class Step(BaseModel):
    """One reasoning step: a visual manipulation (grounding, referring, calculate, ocr) + text."""

    model_config = ConfigDict(extra="ignore")

    manipulation: str
    description: str


class QA(BaseModel):
    """A Q&A item in the MMEvol authors' schema (``score`` is added by the judge)."""

    model_config = ConfigDict(extra="ignore")

    question: str
    answer: str
    objects: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    format: str = "open_ended"
    steps: list[Step] = Field(default_factory=list)
    image_position: str | None = None
    score: float | None = None
    # the producer's own strings when normalisation changed them (None: nothing changed); kept
    # out of the JSON schema that models are shown, they describe data, not a reply to write
    raw_skills: SkipJsonSchema[list[str] | None] = None
    raw_format: SkipJsonSchema[str | None] = None
    # an imported item exactly as its file held it, written back verbatim on export
    original: SkipJsonSchema[dict[str, Any] | None] = None


# what a producer's data carries beside the item itself; never part of a model's reply or context
PRODUCER_FIELDS = frozenset({"raw_skills", "raw_format", "original"})


class ImageRef(BaseModel):
    """Where an image lives and what it is: the content digest identifies it across sources."""

    model_config = ConfigDict(extra="forbid")

    path: str
    digest: str
    width: int | None = None
    height: int | None = None


class Provenance(BaseModel):
    """Which source record contributed to a seed."""

    model_config = ConfigDict(extra="forbid")

    source: str
    file: str
    record_id: str


class Seed(BaseModel):
    """One image with its symbolic context (captions, objects) and its seed Q&A items."""

    model_config = ConfigDict(extra="forbid")

    id: str
    image: ImageRef
    captions: list[str] = Field(default_factory=list)
    objects: list[Obj] = Field(default_factory=list)
    items: list[QA] = Field(default_factory=list)
    provenance: list[Provenance] = Field(default_factory=list)
    topic: str | None = None
    # an imported record's own top-level fields (round lists as None), written back verbatim
    source_record: dict[str, Any] | None = None


class Verdict(BaseModel):
    """The elimination decision on one evolved item compared with its parent."""

    model_config = ConfigDict(extra="forbid")

    improved: bool
    score: float | None = Field(default=None, ge=0, le=10)  # None: an imported verdict had none
    reason: str = ""
    judge: str = "rules"
    # an imported verdict: the score entry as read, written back verbatim on export
    original: SkipJsonSchema[dict[str, Any] | None] = None


class Lineage(BaseModel):
    """Why a sample exists: its parent, the round and direction, who made and judged it."""

    model_config = ConfigDict(extra="forbid")

    parent_id: str | None = None
    round: int = 0
    direction: DirectionName | None = None
    prompt_version: str | None = None
    backend: str | None = None
    model: str | None = None
    verdict: Verdict | None = None
    kept: bool = True
    reason: str = "seed"
    repairs: list[str] = Field(default_factory=list)
    # imported lineage only: how the parent was found ("content": the most similar item of the
    # round it was evolved from, maybe older than round - 1; "unmatched": none was similar enough)
    parent_match: ParentMatch | None = None


class Sample(BaseModel):
    """One row of a run's dataset: a single Q&A item about one image, with its lineage."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seed_id: str
    image: ImageRef
    round: int
    qa: QA
    lineage: Lineage

    @model_validator(mode="after")
    def _round_matches(self) -> Sample:
        if self.lineage.round != self.round:
            raise ValueError("lineage.round must equal round")
        return self


def seed_item_id(seed_id: str, index: int) -> str:
    """Stable id of the ``index``-th seed Q&A item of a seed."""
    return f"{seed_id}#{index}"


def evolved_id(seed_id: str, index: int, round_: int) -> str:
    """Stable id of the round-``round_`` descendant of seed item ``index`` (one child per round)."""
    return f"{seed_id}#{index}@r{round_}"


def seed_samples(seed: Seed) -> list[Sample]:
    """The round-0 samples of a seed: its Q&A items, kept by definition."""
    return [
        Sample(
            id=seed_item_id(seed.id, i),
            seed_id=seed.id,
            image=seed.image,
            round=0,
            qa=qa,
            lineage=Lineage(),
        )
        for i, qa in enumerate(seed.items)
    ]


def to_jsonable(model: BaseModel) -> dict[str, Any]:
    """A compact JSON-ready dict (None fields dropped) used for journal rows and exports."""
    return model.model_dump(mode="json", exclude_none=True)


# --- what a model returns (the response schemas sent as JSON schema / described in prompts) ---


class EvolvedItem(QA):
    """One evolved item as a model returns it: ``source`` is the index of the parent item."""

    source: int = Field(ge=0)


class EvolveOutput(BaseModel):
    """The reply to an evolve call: one evolved item per input item."""

    items: list[EvolvedItem]


class JudgeItem(BaseModel):
    """The judge's word on one (parent, evolved) pair, ``index`` as in the judge context."""

    index: int = Field(ge=0)
    improved: bool
    score: float = Field(ge=0, le=10)
    reason: str = ""

    @field_validator("improved", mode="before")
    @classmethod
    def _yes_no(cls, v: Any) -> Any:
        if isinstance(v, str):
            low = v.strip().lower()
            if low in {"yes", "y", "true", "improved"}:
                return True
            if low in {"no", "n", "false", "not improved"}:
                return False
        return v


class JudgeOutput(BaseModel):
    """The reply to a judge call."""

    verdicts: list[JudgeItem]
