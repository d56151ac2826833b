"""The Python API (``mmevol.api``): the README's example as written, runs and their data, custom
directions registered from code and kept by the run, and the errors a notebook user meets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mmevol
from mmevol.cli import app
from mmevol.errors import MmevolError
from mmevol.prompts import registry

README = Path(__file__).resolve().parents[1] / "README.md"
PROMPT = (
    "You rewrite questions about an image so that they need counting.\n{{given}}\n"
    "=== user ===\nRewrite each item; keep every claim true.\n{{context}}"
)


@pytest.fixture(autouse=True)
def _no_registrations() -> Iterator[None]:
    registry._REGISTERED.clear()
    yield
    registry._REGISTERED.clear()


def readme_example() -> str:
    text = README.read_text("utf-8")
    found = re.search(r"### From Python.*?```python\n(.*?)```", text, re.S)
    assert found, "README lost its Python API example"
    return found.group(1)


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_example(), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("True ")  # the run completed
    assert "count_more" in done.stdout  # the custom direction was drawn
    llava = json.loads((tmp_path / "work" / "llava.json").read_text("utf-8"))
    assert llava and all("conversations" in r for r in llava)
    specs = json.loads((tmp_path / "work/run/prompts/directions.json").read_text("utf-8"))
    assert specs == {"count_more": {"goal": "questions that need counting", "like": "perception"}}


def test_a_run_is_iterable_and_tabular(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=3)
    assert len(seeds) == 3 and all(s.objects for s in seeds)
    run = mmevol.evolve(seeds, out=tmp_path / "run", rounds=1)
    samples = list(run)
    assert run.complete and len(run) == len(samples)
    assert {s.lineage.round for s in samples} == {0, 1}
    frame = run.to_pandas()
    assert list(frame["id"]) == [s.id for s in samples]
    dataset = run.to_dataset()
    assert dataset.num_rows == len(samples) and "question" in dataset.column_names
    assert run.config.rounds == 1 and run.failures() == []
    assert mmevol.Run(tmp_path / "run").stats == run.stats
    out = mmevol.export(run, "jsonl", tmp_path / "all.jsonl")
    assert len(out.read_text("utf-8").splitlines()) == len(samples)


def test_evolve_refuses_an_unknown_setting_and_a_non_run(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)
    with pytest.raises(MmevolError, match=r"unknown setting\(s\) \['rounsd'\]"):
        mmevol.evolve(seeds, out=tmp_path / "run", rounsd=2)
    assert not (tmp_path / "run").exists()
    with pytest.raises(MmevolError, match="not a run directory"):
        mmevol.Run(tmp_path)


def test_evolve_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)

    async def notebook_cell() -> bool:
        return mmevol.evolve(seeds, out=tmp_path / "run", rounds=1).complete

    assert asyncio.run(notebook_cell())


def test_evolve_is_callable_however_it_was_imported() -> None:
    code = (
        "import mmevol.evolve.config\nfrom mmevol import evolve\n"
        "from mmevol.api import evolve as f\nprint(callable(evolve), evolve is not f)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "True"], done.stderr  # the package itself is callable


def test_a_registered_direction_is_kept_by_the_run_and_resumes_from_the_cli(
    tmp_path: Path,
) -> None:
    mmevol.register_direction("count_more", PROMPT, goal="counting", like="reasoning")
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=4)
    weights = {"perception": 1.0, "count_more": 3.0}
    run = mmevol.evolve(seeds, out=tmp_path / "run", rounds=2, direction_weights=weights)
    drawn = {s.lineage.direction for s in run if s.lineage.round}
    assert "count_more" in drawn
    mine = [s for s in run if s.lineage.direction == "count_more"]
    assert all((s.lineage.prompt_version or "").startswith("count_more/v1@") for s in mine)
    calls = run.stats["calls"]

    registry._REGISTERED.clear()  # a new process: only the run knows the direction now
    res = CliRunner().invoke(app, ["evolve", str(seeds.path), "--out", str(tmp_path / "run"),
                                   "--rounds", "2", "--weights", "perception=1,count_more=3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert mmevol.Run(tmp_path / "run").stats["calls"] == calls  # nothing asked again


def test_an_unknown_direction_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)
    with pytest.raises(MmevolError, match=r"unknown direction\(s\) \['nowhere'\]"):
        mmevol.evolve(seeds, out=tmp_path / "run", direction_weights={"nowhere": 1.0})
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("judge", PROMPT, "taken"),
        ("perception", PROMPT, "taken"),
        ("Count", PROMPT, "a-z"),
        ("x" * 40, PROMPT, "a-z"),
        ("count_more", "no separator here, only a long enough system part", "=== user ==="),
        ("count_more", "system part long enough to pass\n=== user ===\nno context", "context"),
        ("count_more", PROMPT.replace("{{given}}", "{{secret}}"), "unknown placeholder"),
    ],
)
def test_register_direction_says_what_is_wrong(name: str, text: str, problem: str) -> None:
    with pytest.raises(MmevolError, match=re.escape(problem)):
        mmevol.register_direction(name, text, goal="counting")
    assert name not in registry._REGISTERED


def test_new_direction_on_the_command_line(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=2)
    prompt = tmp_path / "p.md"
    prompt.write_text(PROMPT, "utf-8")
    run = str(tmp_path / "run")
    runner = CliRunner()
    made = runner.invoke(app, ["prompts", "new-direction", "count_more", "--run", run,
                               "--file", str(prompt), "--goal", "counting"])  # fmt: skip
    assert made.exit_code == 0, made.output
    again = runner.invoke(app, ["prompts", "new-direction", "count_more", "--run", run,
                                "--file", str(prompt), "--goal", "counting"])  # fmt: skip
    assert again.exit_code != 0 and "exists" in again.output
    res = runner.invoke(app, ["evolve", str(seeds.path), "--out", run, "--rounds", "1",
                              "--weights", "count_more=1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    listed = runner.invoke(app, ["prompts", "list", "--run", run])
    assert "count_more" in listed.output and "direction" in listed.output


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("1,0,0", {"perception": 1.0, "reasoning": 0.0, "interactive": 0.0}),
        ("reasoning=2, perception=1", {"perception": 1.0, "reasoning": 2.0, "interactive": 0.0}),
    ],
)
def test_weights_flag_takes_numbers_or_names(flag: str, expected: dict[str, float]) -> None:
    from mmevol.cli.evolve import parse_weights
    from mmevol.evolve.config import EvolveConfig

    config = EvolveConfig(seeds="s", out="o", direction_weights=parse_weights(flag))
    assert config.direction_weights == expected


@pytest.mark.parametrize("flag", ["1,2", "perception=", "=1", "a=b", ""])
def test_weights_flag_refuses_what_it_cannot_read(flag: str) -> None:
    from mmevol.cli.evolve import parse_weights

    with pytest.raises(MmevolError, match="--weights"):
        parse_weights(flag)


def test_api_names_load_lazily() -> None:
    code = "import sys, mmevol; print('mmevol.api' in sys.modules, mmevol.__version__)"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split()[0] == "False", done.stderr


@pytest.mark.parametrize("weights", [{"perception": float("nan")}, {"perception": float("inf")}])
def test_weights_that_are_not_finite_are_refused(tmp_path: Path, weights: dict[str, float]) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)
    with pytest.raises(MmevolError, match="finite numbers >= 0"):
        mmevol.evolve(seeds, out=tmp_path / "run", direction_weights=weights)
    assert not (tmp_path / "run").exists()


def test_wrong_types_and_options_are_one_line_errors(tmp_path: Path) -> None:
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)
    with pytest.raises(MmevolError, match=r"^evolve: rounds: .*\(got 'two'\)$"):
        mmevol.evolve(seeds, out=tmp_path / "run", rounds="two")
    run = mmevol.evolve(seeds, out=tmp_path / "run", rounds=1)
    with pytest.raises(MmevolError, match=r"unknown option\(s\) \['boxez'\]; known: boxes"):
        run.export("llava", tmp_path / "x.json", boxez="qwen")
    with pytest.raises(MmevolError, match="template and goal must be text"):
        mmevol.register_direction("count_more", PROMPT, goal=None)  # type: ignore[arg-type]
    with pytest.raises(MmevolError, match="one line of text"):
        mmevol.register_direction("count_more", PROMPT, goal="two\nlines")
    (tmp_path / "run" / "config.json").write_text("{not json", "utf-8")
    with pytest.raises(MmevolError, match=r"config\.json"):
        mmevol.Run(tmp_path / "run")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[" * 100_000, "nested too deeply"),
        (json.dumps({f"d{i:03d}": {"goal": "ggg"} for i in range(65)}), "at most 64"),
        ('{"count_more": {"goal": "a\\u001b[31mb"}}', "control character"),
        ('{"count_more": "perception"}', "expected each direction as an object"),
    ],
)
def test_a_hostile_directions_file_is_a_one_line_error(
    tmp_path: Path, content: str, says: str
) -> None:
    mmevol.register_direction("count_more", PROMPT, goal="counting")
    seeds = mmevol.demo_seeds(tmp_path / "seeds.jsonl", n=1)
    weights = {"perception": 1.0, "count_more": 1.0}
    mmevol.evolve(seeds, out=tmp_path / "run", rounds=1, direction_weights=weights)
    (tmp_path / "run" / "prompts" / "directions.json").write_text(content, "utf-8")
    res = CliRunner().invoke(app, ["evolve", str(seeds.path), "--out", str(tmp_path / "run"),
                                   "--rounds", "1", "--weights", "perception=1,count_more=1"])  # fmt: skip
    assert res.exit_code != 0 and says in " ".join(res.output.split())
    assert len(res.output.strip().splitlines()) <= 2 and "Traceback" not in res.output


def test_new_direction_refuses_devices_bad_text_and_missing_folders(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe" + PROMPT.encode())
    good = tmp_path / "good.md"
    good.write_text(PROMPT, "utf-8")
    cases = [
        (["--run", str(tmp_path / "run"), "--file", "/dev/zero"], "not a regular prompt file"),
        (["--run", str(tmp_path / "run"), "--file", str(bad)], "not UTF-8 text"),
        (["--run", str(tmp_path / "no" / "run"), "--file", str(good)], "does not exist"),
    ]
    for args, says in cases:
        res = CliRunner().invoke(app, ["prompts", "new-direction", "count_more", *args,
                                       "--goal", "counting"])  # fmt: skip
        assert res.exit_code != 0 and says in res.output, res.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "no").exists()


def test_an_imported_run_opens_as_a_run(tmp_path: Path) -> None:
    from authors_layout import write_authors_run

    images = tmp_path / "images"
    write_authors_run(tmp_path / "theirs", image_root=images, n_images=6, rounds=2)
    out = tmp_path / "imported"
    res = CliRunner().invoke(app, ["import", str(tmp_path / "theirs"), "--format", "mmevol",
                                   "--out", str(out), "--images", str(images)])  # fmt: skip
    assert res.exit_code == 0, res.output
    run = mmevol.Run(out)
    assert run.config.backend == "imported" and run.config.rounds == 2
    assert {s.lineage.round for s in run} == {0, 1, 2}
    assert len(run.to_pandas()) == len(run)
