"""``mmevol evolve``'s flags and ``EvolveConfig``'s fields stay in step: every field has a flag
(same name, or the rename in ``cli.app.CONFIG_FLAGS``) or is listed as set in code, and every
flag is a field or listed as not a setting. A field added without a flag fails here."""

from __future__ import annotations

import typer

from mmevol.cli import app
from mmevol.cli.app import CONFIG_FLAGS, CONFIG_WITHOUT_FLAG, FLAGS_WITHOUT_CONFIG
from mmevol.evolve.config import EvolveConfig


def _evolve_flags() -> set[str]:
    command = typer.main.get_command(app).commands["evolve"]  # type: ignore[attr-defined]
    flags = set()
    for param in command.params:
        names = [o for o in param.opts if o.startswith("--")] or [param.name or ""]
        flags.add(names[0].removeprefix("--"))
    return flags


def test_every_config_field_has_a_flag_and_every_flag_a_field() -> None:
    flags = _evolve_flags()
    fields = set(EvolveConfig.model_fields)
    wanted = {CONFIG_FLAGS.get(f, f.replace("_", "-")) for f in fields - CONFIG_WITHOUT_FLAG}
    assert wanted - flags == set(), "config fields without a flag"
    assert flags - wanted - FLAGS_WITHOUT_CONFIG == set(), "flags that set no config field"
    assert set(CONFIG_FLAGS) <= fields and fields >= CONFIG_WITHOUT_FLAG
    assert flags >= FLAGS_WITHOUT_CONFIG


def test_a_config_error_names_the_flag(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("")
    got = CliRunner().invoke(
        app, ["evolve", str(seeds), "--out", str(tmp_path / "r"), "--weights", "1,1,-5"]
    )
    assert got.exit_code == 2
    assert "--weights" in got.output
