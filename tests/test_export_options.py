"""``mmevol export`` options: missing images, box styles in text, format names and conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.errors import ConfigError, InputError
from mmevol.geometry import is_normalised, parse_boxes
from mmevol.io.boxstyle import Restyler, restyle_text
from mmevol.io.export import EXPORTERS, ExportRequest, export, write_export
from mmevol.io.formats import FORMATS
from mmevol.io.images import image_ref, missing_image_ref, seed_id_for
from mmevol.io.sharegpt import read_sharegpt
from mmevol.io.tabular import read_samples
from mmevol.schema import QA, ImageRef, Sample, Seed, Step, seed_samples
from mmevol.seeds import write_seeds

runner = CliRunner()
BOXED = QA(
    question="Is the dog at [0.100, 0.200, 0.500, 0.600]? Rows [1, 2, 3, 4] and [0.5, 0.5, 0.5, 0.9].",
    answer="Yes: [0.250, 0.000, 1.000, 0.500], not [0.2, 0.3, 0.1, 0.9] or [0.1, 0.2, 0.3].",
    steps=[Step(manipulation="crop([0.100, 0.200, 0.500, 0.600])", description="dog [0.1,0.2,0.5,0.6]")],
    image_position="end",
)  # fmt: skip


def _seed(folder: Path, name: str, size: tuple[int, int] = (200, 100)) -> Seed:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.new("RGB", size, (10, 20, 30)).save(path)
    ref = image_ref(path)
    second = QA(question="And the cat?", answer="At [0.000, 0.500, 0.500, 1.000].")
    return Seed(id=seed_id_for(ref.digest), image=ref, items=[BOXED, second])


def _two(tmp_path: Path) -> tuple[list[Sample], dict[str, Seed], Path]:
    """Two seeds' samples; the second seed's image file is then deleted."""
    a, b = _seed(tmp_path / "imgs", "a.png"), _seed(tmp_path / "imgs", "b.png", (40, 40))
    gone = Path(b.image.path)
    gone.unlink()
    return [*seed_samples(a), *seed_samples(b)], {a.id: a, b.id: b}, gone


# ---- missing images -------------------------------------------------------------------------


def test_missing_images_are_skipped_by_default_and_counted(tmp_path: Path) -> None:
    samples, seeds, gone = _two(tmp_path)
    summary = write_export("llava", samples, seeds, tmp_path / "d.json")
    assert (summary.missing.images, summary.missing.samples) == (1, 2)
    assert summary.missing.example == str(gone) and summary.samples == 2
    assert "1 image(s) missing, 2 sample(s) skipped" in summary.line()
    records = json.loads((tmp_path / "d.json").read_text())
    assert [Path(r["image"]).name for r in records] == ["a.png"]
    line = summary.missing.line()
    assert line is not None and "\n" not in line and str(gone) in line and "1 image" in line


def test_missing_images_keep_and_error(tmp_path: Path) -> None:
    samples, seeds, gone = _two(tmp_path)
    kept = write_export(
        "openai-messages",
        samples,
        seeds,
        tmp_path / "k.jsonl",
        ExportRequest(missing_images="keep"),
    )
    assert kept.samples == 4 and kept.missing.images == 1 and "kept" in kept.line()
    rows = (tmp_path / "k.jsonl").read_text().splitlines()
    assert any(str(gone) in r for r in rows)
    with pytest.raises(InputError, match=r"b\.png: image: file not found \(1 image file\(s\)"):
        export("llava", samples, seeds, tmp_path / "e.json", missing_images="error")
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize(
    ("fmt", "out", "extra", "why"),
    [
        ("parquet", "d.parquet", {}, "embed stores each image's bytes"),
        ("trl", "trl", {}, "copies each image"),
        ("llamafactory", "lf", {}, "copies each image"),
    ],
)
def test_formats_that_carry_pixels_cannot_keep_a_missing_image(
    tmp_path: Path, fmt: str, out: str, extra: dict[str, str], why: str
) -> None:
    samples, seeds, _ = _two(tmp_path)
    with pytest.raises(InputError, match=why):
        export(fmt, samples, seeds, tmp_path / out, missing_images="keep", **extra)
    assert not (tmp_path / out).exists()
    summary = write_export(fmt, samples, seeds, tmp_path / out)  # the default skips them
    assert summary.missing.images == 1 and summary.samples == 2


def test_parquet_with_paths_can_keep_a_missing_image(tmp_path: Path) -> None:
    samples, seeds, _ = _two(tmp_path)
    req = ExportRequest(images="absolute", missing_images="keep")
    summary = write_export("parquet", samples, seeds, tmp_path / "d.parquet", req)
    assert summary.samples == 4 and summary.missing.images == 1


def test_cli_warns_once_on_stderr_and_counts_in_the_summary(tmp_path: Path) -> None:
    from mmevol.world.scenes import write_demo_set

    seeds_file = tmp_path / "seeds.jsonl"
    demo = write_demo_set(tmp_path / "scenes", n=3, seed=2)
    write_seeds(demo, seeds_file)
    run = tmp_path / "run"
    assert (
        runner.invoke(
            app, ["evolve", str(seeds_file), "--out", str(run), "--rounds", "1"]
        ).exit_code
        == 0
    )
    Path(demo[0].image.path).unlink()
    result = runner.invoke(
        app, ["export", str(run), "--format", "trl", "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    warnings = [x for x in result.stderr.splitlines() if "missing" in x]
    assert len(warnings) == 1 and "1 image file(s) missing" in warnings[0]
    assert demo[0].image.path in warnings[0]
    assert "1 image(s) missing" in result.stdout and "skipped" in result.stdout
    result = runner.invoke(app, ["export", str(run), "--format", "trl", "--missing-images",
                                 "error", "--out", str(tmp_path / "t2")])  # fmt: skip
    assert result.exit_code == 2 and "file not found" in result.stderr
    assert not (tmp_path / "t2").exists()
    rounds = tmp_path / "rounds"
    result = runner.invoke(app, ["export", str(run), "--format", "mmevol-rounds", "--boxes", "qwen",
                                 "--missing-images", "skip", "--out", str(rounds)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 image file(s) missing" in result.stderr
    records = sorted((rounds / "round1" / "filtered_qa").glob("*.json"))
    assert len(records) == 2 and not any(demo[0].id in p.name for p in records)
    texts = [
        item[key]
        for p in records
        for k, items in json.loads(p.read_text()).items()
        if k.startswith("conversations_v")
        for item in items
        for key in ("question", "answer")
    ]
    boxes = [b for t in texts for b in parse_boxes(t)]
    assert boxes and not any(is_normalised(b) for b in boxes)  # all now 0..1000 integers


# ---- box styles -----------------------------------------------------------------------------


def test_restyle_text_converts_only_normalised_boxes() -> None:
    text = "a [0.100, 0.200, 0.500, 0.600] b [1, 2, 3, 4] c [0.5, 0.5, 0.5, 0.9] d [0.1, 0.2, 0.3]"
    assert restyle_text(text, "norm") == text
    assert restyle_text(text, "qwen") == (
        "a [100, 200, 500, 600] b [1, 2, 3, 4] c [0.5, 0.5, 0.5, 0.9] d [0.1, 0.2, 0.3]"
    )
    assert restyle_text(text, "pixel", lambda: (200, 100)) == (
        "a [20, 20, 100, 60] b [1, 2, 3, 4] c [0.5, 0.5, 0.5, 0.9] d [0.1, 0.2, 0.3]"
    )
    assert restyle_text("[0,0,1,1] and [0.1234, 0.5, 0.9876, 0.75]", "qwen") == (
        "[0, 0, 1000, 1000] and [123, 500, 988, 750]"
    )


@pytest.mark.parametrize(
    ("style", "box", "cat"),
    [
        ("norm", "[0.100, 0.200, 0.500, 0.600]", "[0.000, 0.500, 0.500, 1.000]"),
        ("qwen", "[100, 200, 500, 600]", "[0, 500, 500, 1000]"),
        ("pixel", "[20, 20, 100, 60]", "[0, 50, 100, 100]"),
    ],
)
def test_every_turn_of_every_format_gets_the_style(
    tmp_path: Path, style: str, box: str, cat: str
) -> None:
    seed = _seed(tmp_path / "imgs", "a.png", (200, 100))
    samples, seeds = seed_samples(seed), {seed.id: seed}
    llava = json.loads(export("llava", samples, seeds, tmp_path / "l.json", group="seed",
                              boxes=style).read_text())  # fmt: skip
    turns = [t["value"] for t in llava[0]["conversations"]]
    assert box in turns[0] and cat in turns[3]
    assert "[1, 2, 3, 4]" in turns[0] and "[0.2, 0.3, 0.1, 0.9]" in turns[1]
    trl = export("trl", samples, seeds, tmp_path / "t", group="seed", boxes=style)
    row = json.loads((trl / "data.jsonl").read_text())
    assert cat in json.dumps(row["messages"][3]) and box in json.dumps(row["messages"][0])
    back = list(read_samples(export("jsonl", samples, seeds, tmp_path / "d.jsonl", boxes=style)))
    assert box in back[0].qa.question and cat in back[1].qa.answer
    assert box in back[0].qa.steps[0].manipulation
    mm = export("mmevol", samples, seeds, tmp_path / "mm", boxes=style)
    doc = json.loads(next(mm.glob("*.json")).read_text())
    assert box in doc["conversations_v0"][0]["question"]


def test_pixel_reads_an_unrecorded_size_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    seed = _seed(tmp_path / "imgs", "a.png", (200, 100))
    bare = seed.image.model_copy(update={"width": None, "height": None})
    sample = seed_samples(seed)[0].model_copy(update={"image": bare})
    assert "[20, 20, 100, 60]" in Restyler("pixel").sample(sample).qa.question
    lost = missing_image_ref("nowhere/x.png")
    with pytest.raises(ConfigError, match=r"--boxes pixel: the size of image nowhere/x\.png"):
        Restyler("pixel").sample(sample.model_copy(update={"image": lost}))
    sized = ImageRef(path="nowhere/x.png", digest=lost.digest, width=10, height=10)
    assert (
        "[1, 2, 5, 6]"
        in Restyler("pixel").sample(sample.model_copy(update={"image": sized})).qa.question
    )


def test_imported_items_are_restyled_in_their_original_text(tmp_path: Path) -> None:
    seed = _seed(tmp_path / "imgs", "a.png")
    original = {"question": BOXED.question, "answer": BOXED.answer, "steps": [
        {"manipulation": "crop", "description": "at [0.100, 0.200, 0.500, 0.600]"}]}  # fmt: skip
    qa = BOXED.model_copy(update={"original": original})
    out = Restyler("qwen").qa(qa, seed.image)
    assert out.original is not None
    assert out.original["steps"][0]["description"] == "at [100, 200, 500, 600]"


# ---- names, aliases, conflicts, help --------------------------------------------------------


def test_sharegpt_is_a_deprecated_alias_of_openai_messages(tmp_path: Path) -> None:
    seed = _seed(tmp_path / "imgs", "a.png")
    samples, seeds = seed_samples(seed), {seed.id: seed}
    old = write_export("sharegpt", samples, seeds, tmp_path / "s.jsonl")
    new = write_export("openai-messages", samples, seeds, tmp_path / "o.jsonl")
    assert (tmp_path / "s.jsonl").read_text() == (tmp_path / "o.jsonl").read_text()
    assert old.notes and "openai-messages" in old.notes[0] and not new.notes
    row = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 2


def test_sharegpt_classic_records(tmp_path: Path) -> None:
    seed = _seed(tmp_path / "imgs", "a.png")
    tokened = seed.items[1].model_copy(update={"answer": "A <image> cat."})
    seed = seed.model_copy(update={"items": [seed.items[0], tokened]})
    samples, seeds = seed_samples(seed), {seed.id: seed}
    out = export("sharegpt-classic", samples, seeds, tmp_path / "c.json", group="seed")
    [rec] = json.loads(out.read_text())
    assert list(rec) == ["id", "conversations", "image", "images"]
    assert [t["from"] for t in rec["conversations"]] == ["human", "gpt", "human", "gpt"]
    assert rec["conversations"][0]["value"].endswith("\n<image>")
    assert json.dumps(rec).count("<image>") == 1  # stray tokens taken out
    assert rec["images"] == [rec["image"]] and Path(rec["image"]).is_file()
    jl = export("sharegpt-classic", samples, seeds, tmp_path / "c.jsonl", group="seed")
    assert json.loads(jl.read_text().splitlines()[0])["conversations"] == rec["conversations"]
    [back] = read_sharegpt(out, Path("/"))
    assert [q.question for q in back.items] == [q.question for q in seed.items]


@pytest.mark.parametrize(
    ("fmt", "out", "req", "message"),
    [
        ("trl", "t", {"images": "embed"}, "--images embed: trl takes absolute or relative"),
        ("llava", "l.json", {"images": "inline"}, "--images: unknown value 'inline'"),
        ("trl", "t", {"image_root": "ROOT"}, "--image-root: does not apply to trl"),
        ("llava", "l.json", {"image_root": "ROOT", "images": "absolute"}, "only with --images relative"),
        ("mmevol", "m", {"images": "absolute"}, "--images: does not apply to mmevol"),
        ("llava", "l.json", {"missing_images": "ignore"}, "--missing-images: unknown value"),
        ("llava", "l.json", {"boxes": "xyxy"}, "--boxes: unknown value 'xyxy'"),
    ],
)  # fmt: skip
def test_conflicting_options_are_one_line_errors(
    tmp_path: Path, fmt: str, out: str, req: dict[str, str], message: str
) -> None:
    seed = _seed(tmp_path / "imgs", "a.png")
    fixed = {k: (tmp_path if v == "ROOT" else v) for k, v in req.items()}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as err:
        write_export(
            fmt, seed_samples(seed), {seed.id: seed}, tmp_path / out, ExportRequest(**fixed)
        )
    assert "\n" not in str(err.value)
    assert not (tmp_path / out).exists()


def test_image_root_writes_relative_paths(tmp_path: Path) -> None:
    seed = _seed(tmp_path / "imgs", "a.png")
    out = export("llava", seed_samples(seed), {seed.id: seed}, tmp_path / "o" / "l.json",
                 image_root=tmp_path / "imgs")  # fmt: skip
    assert json.loads(out.read_text())[0]["image"] == "a.png"


def test_help_describes_every_format_and_jsonl() -> None:
    assert set(FORMATS) == {*EXPORTERS, "mmevol-rounds"}
    result = runner.invoke(app, ["export", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name, info in FORMATS.items():
        assert f"{name} {' '.join(info.summary.split())}" in text
    assert "one mmevol Sample per line: id, seed_id, round, image {path, digest" in text
    for flag in ("--images", "--missing-images", "--boxes", "--image-root", "--group"):
        assert flag in text
