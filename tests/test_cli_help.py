"""``--help`` that teaches: commands in workflow order, an example under every command, option
names never cut at 80 columns, metavars that read as words."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from mmevol.cli import app
from mmevol.cli.app import EXAMPLES, WORKFLOW


def commands(group: Any, path: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, sub in group.commands.items():
        full = f"{path} {name}".strip()
        subs = getattr(sub, "commands", None)
        found += commands(sub, full) if subs else [(full, sub)]
    return found


ALL = commands(typer.main.get_command(app))


def help_text(path: str) -> str:
    res = CliRunner().invoke(app, [*path.split(), "--help"], env={"COLUMNS": "80"}, color=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_top_level_lists_commands_in_workflow_order() -> None:
    text = help_text("")
    listed = re.findall(r"^  ([a-z-]+)  ", text.split("Commands:", 1)[1], re.M)
    assert listed == list(WORKFLOW)
    assert "Workflow:" in text


GROUPS = [n for n, c in typer.main.get_command(app).commands.items() if hasattr(c, "commands")]


def test_every_command_and_group_has_an_example_that_names_it() -> None:
    assert sorted(EXAMPLES) == sorted([*(p for p, _ in ALL), *GROUPS])
    for path, example in EXAMPLES.items():
        assert example.startswith(f"mmevol {path} ") or example == f"mmevol {path}"


@pytest.mark.parametrize("group", GROUPS)
def test_a_group_shows_its_example(group: str) -> None:
    assert EXAMPLES[group] in help_text(group)


@pytest.mark.parametrize("path", [p for p, _ in ALL])
def test_help_at_80_columns_teaches(path: str) -> None:
    text = help_text(path)
    assert "Example:" in text and EXAMPLES[path] in text
    assert "…" not in text.split("Options:", 1)[1].split("Example:", 1)[0]  # nothing cut
    options = [p for name, c in ALL if name == path for p in c.params]
    for param in options:
        for flag in getattr(param, "opts", []):
            if flag.startswith("-"):
                assert flag in text, f"{path}: {flag} missing or cut"
    assert not re.search(r"--[a-z-]+ <(int|float|str|path|int range|float range)>", text)
