"""Typed backend options (``mmevol.backends.options``): every built-in backend states what it
accepts, and a misspelt, ill-typed or missing option is a one-line error, never ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmevol.backends import REGISTRY, make_backend, register
from mmevol.backends.base import Backend, backend_factory
from mmevol.backends.options import Options, accepted_options, options_model
from mmevol.calls import ModelCall, Reply
from mmevol.cli import app
from mmevol.evolve.config import EvolveConfig
from mmevol.seeds import write_seeds
from mmevol.world import write_demo_set

BUILT_IN = ["openai", "hf", "vllm", "grounded", "fake"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_backend_declares_its_options(name: str) -> None:
    model = options_model(backend_factory(name))
    assert model is not None, f"{name} takes any keyword"
    assert model.model_config.get("extra") == "forbid"
    assert "model" in model.model_fields


@pytest.mark.parametrize(
    ("name", "settings", "option"),
    [
        ("openai", {"model": "gpt-4o-mini", "max_atempts": 9}, "max_atempts"),
        ("grounded", {"sede": 1}, "sede"),
        ("fake", {"bad_rate": 0.0, "unknown_option": 1}, "unknown_option"),
        ("hf", {"model": "x", "device_map": "cpu"}, "device_map"),
        ("vllm", {"model": "x", "max_model_length": 4096}, "max_model_length"),
    ],
)
def test_an_unknown_option_names_itself_and_the_accepted_ones(
    name: str, settings: dict[str, Any], option: str
) -> None:
    with pytest.raises(ValueError) as info:
        make_backend(name, **settings)
    message = str(info.value)
    assert f"unknown option {option!r}" in message and "\n" not in message
    for accepted in sorted(accepted_options(backend_factory(name)) or ()):
        assert accepted in message


def test_an_ill_typed_option_names_it() -> None:
    with pytest.raises(ValueError, match=r"option 'rpm': .*integer"):
        make_backend("openai", model="m", rpm="fast")
    with pytest.raises(ValueError, match=r"option 'seed'"):
        make_backend("grounded", seed="zero")


def test_a_missing_required_option_names_its_flag() -> None:
    with pytest.raises(ValueError, match=r"backend 'openai' needs --model"):
        make_backend("openai")


def test_options_given_are_used_as_typed_and_defaults_stay_the_backends() -> None:
    backend = make_backend("fake", bad_rate="0.25", seed=4)
    assert backend.identity() == "fake:fake-mllm:bad=0.25:broken=0.05:jerr=0.0:seed=4"


class _Echo(Backend):
    name = "echo-test"

    class Options(Options):
        model: str = "echo"
        loud: bool = False

    def __init__(self, **settings: Any) -> None:
        self.model, self.vision = str(settings.get("model", "echo")), False
        self.loud = bool(settings.get("loud"))

    async def complete(self, call: ModelCall) -> Reply:
        return Reply(text="echo", model=self.model)


def test_a_plugin_declares_options_or_takes_anything() -> None:
    register("echo-test")(_Echo)
    register("anything-test")(lambda **kw: _Echo(**kw))
    try:
        assert make_backend("echo-test", loud=True).loud  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="unknown option 'lound'"):
            make_backend("echo-test", lound=True)
        assert accepted_options(backend_factory("anything-test")) is None
        make_backend("anything-test", whatever=1)  # takes **kwargs and declares nothing
    finally:
        REGISTRY.pop("echo-test")
        REGISTRY.pop("anything-test")


def test_run_settings_reach_only_the_backends_that_take_them(tmp_path: Path) -> None:
    config = EvolveConfig(seeds="s", out="o", backend="grounded", rpm=60, concurrency=3)
    assert set(config.backend_settings()) <= {"model", "seed"}
    config = EvolveConfig(seeds="s", out="o", backend="openai", model="m", rpm=60)
    assert config.backend_settings()["rpm"] == 60


def test_the_cli_stops_on_a_misspelt_backend_option(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=1, seed=0), seeds)
    run = tmp_path / "run"
    got = CliRunner().invoke(
        app, ["evolve", str(seeds), "--out", str(run), "--backend-option", "sede=3"]
    )
    assert got.exit_code == 2
    assert "unknown option 'sede'" in got.output and "accepted: model, seed" in got.output
    assert not run.exists()  # nothing written
