"""Typed backend options (``mmevol.backends.options``): every built-in backend states what it
accepts, and a misspelt, ill-typed or missing option is a one-line error, never ignored."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
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
    with pytest.raises(ValueError, match=r"option 'rpm' = 'fast': .*integer"):
        make_backend("openai", model="m", rpm="fast")
    with pytest.raises(ValueError, match=r"option 'seed'"):
        make_backend("grounded", seed="zero")


@pytest.mark.parametrize(
    ("settings", "option"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"rpm": -5}, "rpm"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"json_mode": "yaml"}, "json_mode"),
        ({"detail": "medium"}, "detail"),
    ],
)
def test_an_out_of_range_option_is_one_line_naming_it(
    settings: dict[str, Any], option: str
) -> None:
    with pytest.raises(ValueError) as info:
        make_backend("openai", model="m", **settings)
    message = str(info.value)
    assert f"option {option!r} = {settings[option]!r}" in message
    assert "\n" not in message and "Limits" not in message


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


class _Checks(Backend):
    """A plugin that validates in its constructor with a pydantic model of its own."""

    name = "checks-test"

    class _Inner(Options):
        workers: int = Field(default=1, ge=1)

    def __init__(self, workers: int = 1) -> None:
        self.model, self.vision = "checks", False
        self.inner = self._Inner(workers=workers)

    async def complete(self, call: ModelCall) -> Reply:
        return Reply(text="ok", model=self.model)


class _Callable:
    def __init__(self) -> None:
        self.calls = 0

    __hash__ = None  # type: ignore[assignment]  # unhashable

    def __call__(self, model: str = "c", loud: bool = False) -> Backend:
        self.calls += 1
        return _Echo(model=model, loud=loud)


def _unresolvable(model: str = "u", depth: NotImportedHere = 1) -> Backend:  # type: ignore[name-defined]  # noqa: F821
    return _Echo(model=model)


def _reserved(model: str = "r", model_config: int = 0, _private: int = 0) -> Backend:
    return _Echo(model=model)


class _Aliased(Backend):
    name = "aliased-test"

    class Options(Options):
        temperature_c: float = Field(default=0.0, alias="temperatureC")

    def __init__(self, temperature_c: float = 0.0) -> None:
        self.model, self.vision, self.temperature_c = "a", False, temperature_c

    async def complete(self, call: ModelCall) -> Reply:
        return Reply(text="ok", model=self.model)


@pytest.mark.parametrize(
    ("factory", "settings"),
    [
        (functools.partial(_Echo, model="p"), {"loud": True}),
        (_Callable(), {"loud": True}),
        (_unresolvable, {"depth": 3}),
        (_reserved, {"model_config": 1}),
        (_Aliased, {"temperature_c": 0.5}),
    ],
    ids=["partial", "unhashable-instance", "unresolvable-annotation", "reserved-name", "alias"],
)
def test_any_plugin_factory_builds_and_a_misspelt_option_is_still_named(
    factory: Any, settings: dict[str, Any]
) -> None:
    register("plugin-test")(factory)
    try:
        backend = make_backend("plugin-test", **settings)
        assert isinstance(backend, Backend)
        if options_model(factory) is not None:
            with pytest.raises(ValueError, match="unknown option 'lound'"):
                make_backend("plugin-test", lound=True)
    finally:
        REGISTRY.pop("plugin-test")


def test_a_plugins_own_validation_error_is_one_line() -> None:
    register("checks-test")(_Checks)
    try:
        with pytest.raises(ValueError) as info:
            make_backend("checks-test", workers=0)
        assert "\n" not in str(info.value) and "'workers'" in str(info.value)
    finally:
        REGISTRY.pop("checks-test")


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("concurrency=4", "--backend-option concurrency: set it with --concurrency"),
        ("timeout_s=5", "--backend-option timeout_s: set it with --timeout"),
        ("sede", "--backend-option: expected KEY=VALUE"),
        ("=3", "--backend-option: expected KEY=VALUE"),
    ],
)
def test_a_backend_option_that_is_a_flag_or_has_no_key_is_refused(
    tmp_path: Path, option: str, said: str
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=1, seed=0), seeds)
    run = tmp_path / "run"
    got = CliRunner().invoke(
        app, ["evolve", str(seeds), "--out", str(run), "--backend-option", option]
    )
    assert got.exit_code == 2, got.output
    assert said in " ".join(got.output.split())
    assert not run.exists()
