"""ABS query images on real data: a ``mmevol weights`` plan + a seed pool -> per question type,
its quota of seed images, half the most similar to the type's bad cases and half at random
(MLLM-DataEngine's Adaptive Bad-case Sampling), written as one seeds file per type for
``mmevol evolve SEEDS_T --focus PLAN --focus-type T`` (``mmevol select``).

* **Quota**: a type's plan quota counts new samples; it wants ``ceil(quota / per_image)``
  images. Types with quota 0 get nothing. By default an image goes to one type only
  (``overlap`` lets types share); when the types want more images than the pool holds, the
  pool is shared out in proportion to what each wants (``share_out``), and each type's
  shortfall is reported. The similar picks of every type are made first (largest quota
  first), then the random ones, so a random pick never takes another type's close match.
* **Similar half**: the pool images with the highest similarity to the type's bad cases (the
  best match over its cases, ties in pool order); only a score above 0 counts as similar, the
  rest of the half is filled at random. A type with no bad case is all random.
* **Random half**: drawn from the remaining free images with ``random.Random`` seeded by
  (``seed``, type): the same inputs give the same files.
* **Similarity** (0..1), ``text`` by default (no weights): the TF-IDF cosine of content words
  (normalised, stop words and numbers left out, plurals folded; IDF over the pool) of the
  seed's captions, object categories and questions against the bad case's question and gold
  answer. ``image`` with a local vision encoder (``loop.image_features``): the cosine of the
  seed image's features and those of the type's bad-case images (``AbsPlan.bad_case_images``).
  Bad cases from real evaluations usually carry no image (lmms-eval logs have none): such a
  type is matched by text, and the manifest says which measure each type used.

Everything read is bounded: the plan through ``io.safeio`` (size, JSON shape), seeds through
``seeds.read_seeds``, a seed's text to ``MAX_SEED_TEXT`` characters, the pool to ``MAX_POOL``
seeds, quotas to the pool's size.
"""

from __future__ import annotations

import math
import random
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError

from mmevol.errors import InputError, MmevolError
from mmevol.io.safeio import check_path_text, parse_json, read_regular
from mmevol.io.tabular import validation_problem
from mmevol.loop.plan import AbsPlan
from mmevol.schema import Seed
from mmevol.textsim import COCO_CATEGORIES, normalize_text, plural

MAX_PLAN_BYTES = 16 << 20
MAX_POOL = 1_000_000
MAX_SEED_TEXT = 4000  # characters of a seed's captions, categories and questions
MAX_CASE_TEXT = 1600
MAX_CASE_IMAGES = 64  # per type
MANIFEST = "selection.json"
Kind = Literal["similar", "random"]
Measure = Literal["text", "image", "none"]

STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "without",
        "into",
        "onto",
        "over",
        "under",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "any",
        "some",
        "each",
        "every",
        "all",
        "both",
        "either",
        "neither",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "you",
        "your",
        "yours",
        "i",
        "me",
        "my",
        "we",
        "our",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "him",
        "as",
        "than",
        "then",
        "so",
        "if",
        "but",
        "about",
        "above",
        "below",
        "between",
        "image",
        "picture",
        "photo",
        "photograph",
        "shown",
        "show",
        "shows",
        "visible",
        "see",
        "seen",
        "scene",
        "describe",
        "please",
        "one",
        "answer",
        "question",
        "option",
        "options",
        "choose",
        "correct",
        "following",
        "best",
        "letter",
        "only",
    ]
)


# plurals of the COCO and shape-world categories ("buses", "knives", "people") -> singular
_CATEGORY_PLURALS = {plural(c): c for c in COCO_CATEGORIES if " " not in c}


def _singular(word: str) -> str:
    if word in _CATEGORY_PLURALS:
        return _CATEGORY_PLURALS[word]
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def terms(text: str) -> list[str]:
    """Content words of ``text``: normalised, stop words, single letters and numbers left
    out, plurals folded to a singular ("boxes" -> "box", "buses" -> "bus")."""
    out = []
    for tok in normalize_text(text).split():
        if len(tok) < 2 or tok.isdigit() or tok in STOP:
            continue
        out.append(_singular(tok))
    return out


def seed_text(seed: Seed) -> str:
    """What a seed says about its image: captions, object categories, questions (bounded)."""
    cats = list(dict.fromkeys(o.category for o in seed.objects))
    parts = [*seed.captions, " ".join(cats), *(qa.question for qa in seed.items)]
    return " \n".join(parts)[:MAX_SEED_TEXT]


def case_text(case: dict[str, str]) -> str:
    """A bad case's question and gold answer (the model's wrong answer is left out)."""
    return f"{case.get('question', '')} \n{case.get('answer', '')}"[:MAX_CASE_TEXT]


class TextIndex:
    """TF-IDF vectors of the pool's seed texts, with an inverted index for cosine queries."""

    def __init__(self, docs: Sequence[list[str]]) -> None:
        self.n = len(docs)
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        self.idf = {t: math.log((self.n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            for t, w in self._vector(doc).items():
                self.postings[t].append((i, w))

    def _vector(self, doc: list[str]) -> dict[str, float]:
        tf = Counter(doc)
        vec = {t: (1 + math.log(c)) * self.idf.get(t, 0.0) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items() if v} if norm else {}

    def cosines(self, query: list[str]) -> dict[int, float]:
        """Cosine of the query with every pool text sharing a term (absent: 0)."""
        acc: dict[int, float] = defaultdict(float)
        for t, w in self._vector(query).items():
            for i, ws in self.postings.get(t, ()):
                acc[i] += w * ws
        return acc


@dataclass
class Pick:
    """One chosen seed image: why (similar or random), its similarity to the type's nearest
    bad case (0 when it shares nothing or the type has none) and that case's index."""

    seed_id: str
    image: str
    kind: Kind
    score: float
    case: int | None

    def record(self) -> dict[str, Any]:
        return {"seed_id": self.seed_id, "image": self.image, "pick": self.kind,
                "score": round(self.score, 4), "bad_case": self.case}  # fmt: skip


@dataclass
class TypeSelection:
    qtype: str
    quota: int
    wanted: int
    measure: Measure
    file: str
    bad_cases: int
    picks: list[Pick] = field(default_factory=list)

    @property
    def shortfall(self) -> int:
        return self.wanted - len(self.picks)

    @property
    def run_name(self) -> str:
        """A run folder name for this type (``run-<type>``, file-name safe)."""
        return "run-" + Path(self.file).stem.removeprefix("seeds-")

    def count(self, kind: Kind) -> int:
        return sum(p.kind == kind for p in self.picks)


@dataclass
class Selection:
    """What ``select`` chose, per type in plan order, and notes for the user."""

    plan: Path
    seeds: Path
    out: Path
    pool: int
    seed: int
    similar_share: float
    per_image: int
    overlap: bool
    encoder: str | None
    types: list[TypeSelection]
    notes: list[str] = field(default_factory=list)

    def command(self, t: TypeSelection, run: str | None = None) -> str:
        """The ``mmevol evolve`` command that evolves this type's seeds with its bad cases."""
        args = ["mmevol", "evolve", str(self.out / t.file), "--focus", str(self.plan),
                "--focus-type", t.qtype, "--out", run or t.run_name]  # fmt: skip
        return shlex.join(args)

    def manifest(self) -> dict[str, Any]:
        return {
            "plan": str(self.plan), "seeds": str(self.seeds), "pool": self.pool,
            "seed": self.seed, "similar_share": self.similar_share,
            "per_image": self.per_image, "overlap": self.overlap, "encoder": self.encoder,
            "notes": self.notes,
            "types": {
                t.qtype: {
                    "quota": t.quota, "wanted": t.wanted, "chosen": len(t.picks),
                    "similar": t.count("similar"), "random": t.count("random"),
                    "shortfall": t.shortfall, "similarity": t.measure,
                    "bad_cases": t.bad_cases, "seeds_file": t.file,
                    "evolve": self.command(t) if t.picks else None,
                    "images": [p.record() for p in t.picks],
                }
                for t in self.types
            },
        }  # fmt: skip


# --- reading ---------------------------------------------------------------------------------
def read_plan(path: Path) -> AbsPlan:
    """A ``mmevol weights`` plan, read as hostile: a regular file of at most
    ``MAX_PLAN_BYTES``, bounded JSON, the plan's shape, quotas >= 0 for types it lists."""
    data = read_regular(path, what="plan file", limit=MAX_PLAN_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, "not UTF-8 text (expected a `mmevol weights` plan)") from None
    value = parse_json(text, path)
    if not isinstance(value, dict) or "quotas" not in value or "per_type" not in value:
        raise InputError(path, None, "not a `mmevol weights` plan (no per_type and quotas)")
    try:
        plan = AbsPlan.model_validate(value)
    except ValidationError as exc:
        where, msg = validation_problem(exc)
        raise InputError(path, where, msg) from None
    for t, q in plan.quotas.items():
        if q < 0:
            raise InputError(path, f"quotas.{t}", f"{q} is not a quota (expected 0 or more)")
        if t not in plan.per_type:
            raise InputError(path, f"quotas.{t}", "a type the plan's per_type does not list")
    for t, paths in plan.bad_case_images.items():
        if t not in plan.per_type:
            raise InputError(path, f"bad_case_images.{t}", "a type per_type does not list")
        for i, p in enumerate(paths[:MAX_CASE_IMAGES]):
            check_path_text(p, path, f"bad_case_images.{t}[{i}]")
    return plan


@dataclass
class Pool:
    """The seed pool: ids, image paths, seed texts' terms, and the line of each seed kept."""

    ids: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    missing: list[bool] = field(default_factory=list)  # image not on disk (keyed by path)
    docs: list[list[str]] = field(default_factory=list)
    duplicates: int = 0


def read_pool(path: Path) -> Pool:
    """Stream the seeds file once, keeping per seed only what the choice needs; a seed id seen
    before is counted as a duplicate and left out."""
    from mmevol.seeds import read_seeds

    pool = Pool()
    seen: set[str] = set()
    for seed in read_seeds(path):
        if seed.id in seen:
            pool.duplicates += 1
            continue
        if len(pool.ids) >= MAX_POOL:
            raise InputError(path, None, f"more than {MAX_POOL} seeds (split the pool)")
        seen.add(seed.id)
        pool.ids.append(seed.id)
        pool.images.append(seed.image.path)
        pool.missing.append(seed.image.digest.startswith("path:"))
        pool.docs.append(terms(seed_text(seed)))
    if not pool.ids:
        raise InputError(path, None, "no seeds in file (expected one seed JSON per line)")
    return pool


# --- similarity ------------------------------------------------------------------------------
Scores = dict[int, tuple[float, int]]  # pool index -> (best similarity, bad case index)


def text_scores(index: TextIndex, cases: Sequence[dict[str, str]]) -> Scores:
    """Per pool seed, its best cosine over the bad cases (seeds sharing no term are absent)."""
    best: Scores = {}
    for c, case in enumerate(cases):
        for i, s in index.cosines(terms(case_text(case))).items():
            if s > best.get(i, (0.0, -1))[0]:
                best[i] = (min(1.0, s), c)
    return best


def image_scores(pool_emb: np.ndarray, have: np.ndarray, case_emb: np.ndarray) -> Scores:
    """Per pool seed whose image was read (``have``), its best cosine over the bad-case
    images (negative cosines count as 0)."""
    if not len(case_emb) or not have.any():
        return {}
    sims = pool_emb[have] @ case_emb.T
    rows = np.flatnonzero(have)
    arg = sims.argmax(axis=1)
    return {int(i): (float(max(0.0, min(1.0, sims[k, arg[k]]))), int(arg[k]))
            for k, i in enumerate(rows)}  # fmt: skip


def choose_similar(n: int, scores: Scores, free: Sequence[int]) -> list[int]:
    """Up to ``n`` of ``free`` with the highest score above 0 (ties in pool order)."""
    ranked = sorted((i for i in free if scores.get(i, (0.0, 0))[0] > 0),
                    key=lambda i: (-scores[i][0], i))  # fmt: skip
    return ranked[:n]


def choose_random(n: int, free: Sequence[int], rng: random.Random) -> list[int]:
    """``n`` of ``free`` (all when fewer), drawn by ``rng``."""
    return rng.sample(list(free), min(n, len(free)))


def split(n: int, share: float) -> int:
    """How many of ``n`` images are the similar half (rounded half up)."""
    return min(n, int(n * share + 0.5))


def share_out(wanted: dict[str, int], pool: int, overlap: bool) -> dict[str, int]:
    """How many images each type gets: what it wants, at most the pool; when the types do not
    share images and want more than the pool holds, the pool in proportion to what each wants
    (largest remainder, ties to the type listed first), so every type keeps its similar and
    random halves and the shortfall falls on all of them alike."""
    if overlap or sum(wanted.values()) <= pool:
        return {t: min(n, pool) for t, n in wanted.items()}
    total = sum(wanted.values())
    exact = {t: pool * n / total for t, n in wanted.items()}
    out = {t: min(n, math.floor(exact[t])) for t, n in wanted.items()}
    order = sorted(wanted, key=lambda t: (-(exact[t] - out[t]), list(wanted).index(t)))
    for t in order[: pool - sum(out.values())]:
        out[t] += 1
    return out


def type_rng(seed: int, qtype: str) -> random.Random:
    """The random draw of one type: seeded by (seed, type), stable across runs and orders."""
    return random.Random(f"mmevol-select:{seed}:{qtype}")


def file_names(types: Sequence[str]) -> dict[str, str]:
    """A distinct, safe seeds file name per type (``seeds-<type>.jsonl``)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for t in types:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", t).strip("._-")[:60] or "type"
        name, k = f"seeds-{stem}", 2
        while name.lower() in taken:
            name, k = f"seeds-{stem}-{k}", k + 1
        taken.add(name.lower())
        out[t] = f"{name}.jsonl"
    return out


# --- the choice ------------------------------------------------------------------------------
def choose(
    plan: AbsPlan,
    pool: Pool,
    scores: dict[str, Scores],
    measures: dict[str, Measure],
    *,
    seed: int = 0,
    similar_share: float = 0.5,
    per_image: int = 1,
    types: Sequence[str] | None = None,
    overlap: bool = False,
) -> list[TypeSelection]:
    """Each type's picks (see the module doc), in plan order. ``scores`` per type: pool index
    -> (similarity, bad case); ``measures``: which similarity each type used."""
    wanted_types = [t for t in plan.quotas if types is None or t in types]
    names = file_names(list(plan.quotas))
    sels = {
        t: TypeSelection(
            qtype=t, quota=plan.quotas[t],
            wanted=-(-plan.quotas[t] // per_image),
            measure=measures.get(t, "none"), file=names[t],
            bad_cases=len(plan.bad_cases.get(t, [])),
        )
        for t in wanted_types
    }  # fmt: skip
    order = sorted((t for t in wanted_types if sels[t].wanted > 0),
                   key=lambda t: -sels[t].quota)  # stable: ties in plan order  # fmt: skip
    caps = share_out({t: sels[t].wanted for t in order}, len(pool.ids), overlap)
    taken: set[int] = set()
    all_ids = range(len(pool.ids))

    def free() -> list[int]:
        return list(all_ids) if overlap else [i for i in all_ids if i not in taken]

    def add(t: str, idx: list[int], kind: Kind) -> None:
        for i in idx:
            hit = scores.get(t, {}).get(i)
            score, case = hit if hit is not None else (0.0, None)
            sels[t].picks.append(Pick(pool.ids[i], pool.images[i], kind, score, case))
            taken.add(i)

    for t in order:  # the similar halves first, so no random pick takes another's match
        n_sim = split(caps[t], similar_share)
        add(t, choose_similar(n_sim, scores.get(t, {}), free()), "similar")
    for t in order:
        left = caps[t] - len(sels[t].picks)
        mine = {p.seed_id for p in sels[t].picks}
        cand = [i for i in free() if pool.ids[i] not in mine]
        add(t, choose_random(left, cand, type_rng(seed, t)), "random")
    return [sels[t] for t in wanted_types]


def select_query_images(
    plan_path: Path,
    seeds_path: Path,
    out: Path,
    *,
    seed: int = 0,
    similar_share: float = 0.5,
    per_image: int = 1,
    types: Sequence[str] | None = None,
    overlap: bool = False,
    encoder: Path | None = None,
    batch_size: int = 16,
) -> Selection:
    """Read the plan and the pool, choose each type's images, write ``out/seeds-<type>.jsonl``
    (seeds in pool order) and ``out/selection.json`` (the manifest); returns the selection."""
    if not 0.0 <= similar_share <= 1.0:
        raise MmevolError(f"--similar-share: {similar_share} is not in 0..1")
    if per_image < 1:
        raise MmevolError(f"--per-image: {per_image} is not 1 or more")
    plan_path, seeds_path, out = Path(plan_path), Path(seeds_path), Path(out)
    _check_out(out, [plan_path, seeds_path])
    plan = read_plan(plan_path)
    if types:
        unknown = [t for t in types if t not in plan.quotas]
        if unknown:
            raise MmevolError(f"--type: {unknown[0]!r} is not a type of the plan; its types: "
                              f"{', '.join(plan.quotas)}")  # fmt: skip
    pool = read_pool(seeds_path)
    active = [t for t in plan.quotas if (not types or t in types) and plan.quotas[t] > 0]
    notes: list[str] = []
    if pool.duplicates:
        notes.append(f"{pool.duplicates} seed(s) repeat an earlier seed's id and were left out")
    scores: dict[str, Scores] = {}
    measures: dict[str, Measure] = {}
    index = TextIndex(pool.docs)
    with_images = {t: plan.bad_case_images.get(t, [])[:MAX_CASE_IMAGES] for t in active}
    if encoder is not None and any(with_images.values()):
        img = _image_similarity(plan_path, pool, with_images, encoder, batch_size)
        scores.update(img.scores)
        measures.update(dict.fromkeys(img.scores, "image"))
        notes.extend(img.notes)
    elif encoder is not None:
        notes.append("--encoder: no bad case of the plan has an image (lmms-eval logs and most "
                     "sheets carry none), so similarity is by text only")  # fmt: skip
    elif any(with_images.values()):
        notes.append("the plan's bad-case images are compared only with --encoder DIR; "
                     "similarity is by text")  # fmt: skip
    text_types = []
    for t in active:
        if t in scores:
            continue
        cases = plan.bad_cases.get(t, [])
        measures[t] = "text" if cases else "none"
        scores[t] = text_scores(index, cases) if cases else {}
        if cases:
            text_types.append(t)
        else:
            notes.append(f"{t}: the plan has no bad case, so every image is drawn at random")
    if text_types:
        notes.append(f"{', '.join(text_types)}: bad cases without an image, matched by text "
                     "(seed captions, objects, questions vs the question and answer)")  # fmt: skip
    chosen = choose(plan, pool, scores, measures, seed=seed, similar_share=similar_share,
                    per_image=per_image, types=types or None, overlap=overlap)  # fmt: skip
    sel = Selection(plan=plan_path, seeds=seeds_path, out=out, pool=len(pool.ids), seed=seed,
                    similar_share=similar_share, per_image=per_image, overlap=overlap,
                    encoder=str(encoder) if encoder else None, types=chosen, notes=notes)  # fmt: skip
    _write(sel)
    return sel


@dataclass
class _ImageSimilarity:
    scores: dict[str, Scores]
    notes: list[str]


def _image_similarity(
    plan_path: Path,
    pool: Pool,
    with_images: dict[str, list[str]],
    encoder: Path,
    batch_size: int,
) -> _ImageSimilarity:
    """Cosine of encoder features: pool images vs each type's bad-case images."""
    from mmevol.io.images import load_rgb
    from mmevol.loop.image_features import ImageEncoder

    model = ImageEncoder(encoder, batch_size)
    long_side = 448  # encoders look at 224..448 pixels; decode no more than that
    notes: list[str] = []
    emb: list[np.ndarray] = []
    have = np.zeros(len(pool.ids), dtype=bool)
    unread = 0
    batch: list[Any] = []
    rows: list[int] = []

    def flush() -> None:
        if batch:
            emb.append(model.embed(batch))
            have[rows] = True
            batch.clear()
            rows.clear()

    for i, path in enumerate(pool.images):
        if pool.missing[i]:
            unread += 1
            continue
        try:
            batch.append(load_rgb(path, long_side))
        except InputError:
            unread += 1
            continue
        rows.append(i)
        if len(batch) >= 64:
            flush()
    flush()
    pool_emb = np.zeros((len(pool.ids), emb[0].shape[1]), dtype=np.float32) if emb else None
    if pool_emb is not None:
        pool_emb[have] = np.concatenate(emb)
    if unread:
        notes.append(f"{unread} seed image(s) could not be read; they are drawn only at random "
                     "for the types matched by image")  # fmt: skip
    scores: dict[str, Scores] = {}
    for t, paths in with_images.items():
        if not paths:
            continue
        images = []
        for p in paths:
            full = Path(p) if Path(p).is_absolute() else plan_path.parent / p
            images.append(load_rgb(full, long_side))  # a bad-case image must be readable
        if pool_emb is None:
            scores[t] = {}
            continue
        scores[t] = image_scores(pool_emb, have, model.embed(images))
        notes.append(f"{t}: matched by image ({len(images)} bad-case image(s), {encoder})")
    return _ImageSimilarity(scores, notes)


# --- writing ---------------------------------------------------------------------------------
def _is_earlier(folder: Path) -> bool:
    """An earlier output of ``select``: its manifest and only seeds files beside it."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return MANIFEST in names and all(
        n == MANIFEST or (n.startswith("seeds-") and n.endswith(".jsonl")) for n in names
    )


def _check_out(out: Path, inputs: Sequence[Path]) -> None:
    from mmevol.io.export_base import check_replaceable
    from mmevol.outputs import is_run_dir

    if is_run_dir(out):
        raise InputError(out, None, "is a run directory; choose a new --out folder")
    root = out.resolve()
    for src in inputs:
        if root == src.resolve() or root in src.resolve().parents:
            raise InputError(out, None, f"holds an input ({src}); choose another --out folder")
    check_replaceable(out, _is_earlier)


def _write(sel: Selection) -> None:
    """Each type's seeds in pool order (a second pass over the file) and the manifest; the
    folder is replaced whole, so no file of an earlier selection is left behind."""
    from mmevol.fsutil import write_json
    from mmevol.io.export_base import atomic_dir
    from mmevol.seeds import read_seeds

    wanted: dict[str, list[str]] = defaultdict(list)
    for t in sel.types:
        for p in t.picks:
            wanted[p.seed_id].append(t.file)
    with atomic_dir(sel.out, _is_earlier) as tmp:
        handles = {t.file: (tmp / t.file).open("w", encoding="utf-8") for t in sel.types}
        written: set[str] = set()
        try:
            for s in read_seeds(sel.seeds):
                if s.id in written or s.id not in wanted:
                    continue
                written.add(s.id)
                line = s.model_dump_json(exclude_none=True) + "\n"
                for name in wanted[s.id]:
                    handles[name].write(line)
        finally:
            for fh in handles.values():
                fh.close()
        if written != set(wanted):
            raise InputError(sel.seeds, None, "changed while it was read (seeds went missing)")
        write_json(tmp / MANIFEST, sel.manifest())
