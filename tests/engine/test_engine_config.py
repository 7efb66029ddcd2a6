"""RunConfig validation and JSON round trips (hypothesis for the arbitrary cases)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initviz.engine import ConfigError, InitSpec, RunConfig
from initviz.engine.config import (
    ACTIVATIONS,
    ARCHS,
    DATASETS,
    INIT_SCHEMES,
    MODES,
    NONLINEARITIES,
    OPTIMIZERS,
)

# no example database on disk, no flaky deadlines on a shared machine
SETTINGS = settings(database=None, deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

CHOICES = {
    "dataset": DATASETS,
    "activation": ACTIVATIONS,
    "optimizer": OPTIMIZERS,
    "device": ("cpu", "cuda"),
    "arch": ARCHS,
    "init.scheme": INIT_SCHEMES,
    "init.mode": MODES,
    "init.nonlinearity": NONLINEARITIES,
}
# numeric field -> (lo, hi, integer, lo_open)
NUMBERS = {
    "depth": (1, 200, True, False),
    "width": (1, 4096, True, False),
    "bias_init": (-1e6, 1e6, False, False),
    "bias_std": (0.0, 1e6, False, False),
    "dropout": (0.0, 0.95, False, False),
    "lr": (0.0, 100.0, False, True),
    "momentum": (0.0, 0.999, False, False),
    "batch_size": (2, 4096, True, False),
    "seed": (0, 2**31 - 1, True, False),
    "record_every": (1, 1_000_000, True, False),
    "test_every": (1, 1_000_000, True, False),
    "input_dim": (1, 4096, True, False),
    "init.std": (0.0, 1e6, False, False),
    "init.value": (-1e6, 1e6, False, False),
    "init.bound": (0.0, 1e6, False, False),
    "init.gain": (0.0, 1e6, False, False),
}
BOOLS = ("batchnorm",)
OTHERS = ("residual_scale",)  # a number or a name: tests/engine/test_engine_residual.py


def make(field: str, value: Any) -> RunConfig:
    """A config with one field set (init.* fields inside the InitSpec), not yet validated."""
    if field.startswith("init."):
        return RunConfig(init=dataclasses.replace(InitSpec(), **{field[5:]: value}))
    return RunConfig(**{field: value})


def as_dict(field: str, value: Any) -> dict[str, Any]:
    if field.startswith("init."):
        return {"init": {"scheme": "normal", field[5:]: value}} if field != "init.scheme" else {"init": {"scheme": value}}
    return {field: value}


def assert_names(err: ConfigError, field: str, value: Any) -> None:
    msg = str(err)
    assert err.field == field
    assert msg.startswith(f"{field}: ")
    assert repr(value) in msg
    assert err.allowed and err.allowed in msg


def test_every_field_is_covered_here() -> None:
    top = {f.name for f in dataclasses.fields(RunConfig)} - {"init"}
    init = {"init." + f.name for f in dataclasses.fields(InitSpec)}
    assert top | init == set(CHOICES) | set(NUMBERS) | set(BOOLS) | set(OTHERS)


def test_defaults_are_valid() -> None:
    cfg = RunConfig()
    assert cfg.validate() is cfg


# --- one bad value per field, exhaustively for the boundaries --------------------------------
def _bad_numbers(lo: float, hi: float, integer: bool, lo_open: bool) -> list[Any]:
    bad: list[Any] = [True, False, "1", None, math.nan, math.inf, -math.inf, [1]]
    if integer:
        bad += [lo - 1, hi + 1, float(lo), 1.5]
    else:
        bad += [hi * 1.001 + 1e-9, lo - abs(lo) * 0.001 - 1e-9]
        if lo_open:
            bad.append(lo)
    return bad


@pytest.mark.parametrize("field", sorted(NUMBERS))
def test_numeric_fields_reject_bad_values(field: str) -> None:
    lo, hi, integer, lo_open = NUMBERS[field]
    for value in _bad_numbers(lo, hi, integer, lo_open):
        with pytest.raises(ConfigError) as info:
            make(field, value).validate()
        assert_names(info.value, field, value)
        assert f"{hi:g}" in info.value.allowed  # the allowed range is spelled out
        if integer and (isinstance(value, (bool, str, float, list)) or value is None):
            assert "whole number" in info.value.allowed or "finite" in info.value.allowed


@pytest.mark.parametrize("field", sorted(NUMBERS))
def test_numeric_fields_accept_their_bounds(field: str) -> None:
    lo, hi, integer, lo_open = NUMBERS[field]
    make(field, hi).validate()
    if not lo_open:
        make(field, lo).validate()


@pytest.mark.parametrize("field", sorted(CHOICES))
def test_choice_fields_reject_bad_values(field: str) -> None:
    for value in ["nope", "", 3, None, "Tanh", True]:
        with pytest.raises(ConfigError) as info:
            make(field, value).validate()
        assert_names(info.value, field, value)
        for choice in CHOICES[field]:
            assert choice in info.value.allowed


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_batchnorm_requires_a_bool(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(batchnorm=value).validate()
    assert_names(info.value, "batchnorm", value)
    assert "true or false" in info.value.allowed


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_cuda_without_a_device_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(device="cuda").validate()
    assert info.value.field == "device" and "cpu" in info.value.allowed


def test_init_must_be_an_init_spec() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(init=5).validate()  # type: ignore[arg-type]
    assert_names(info.value, "init", 5)


# --- hypothesis: arbitrary bad numbers are refused through every door ------------------------
def _non_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(),
        st.just(math.nan),
        st.sampled_from([math.inf, -math.inf]),
        st.text(max_size=5),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )


@SETTINGS
@given(field=st.sampled_from(sorted(NUMBERS)), value=_non_numbers())
def test_non_numbers_in_numeric_fields_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        make(field, value).validate()
    assert_names(info.value, field, value)


@SETTINGS
@given(field=st.sampled_from(sorted(NUMBERS)), data=st.data())
def test_out_of_range_numbers_are_refused(field: str, data: st.DataObject) -> None:
    lo, hi, integer, lo_open = NUMBERS[field]
    if integer:
        value = data.draw(st.one_of(st.integers(-10**9, lo - 1), st.integers(hi + 1, hi + 10**9)))
    else:
        below = st.floats(max_value=lo, allow_nan=False, allow_infinity=False)
        below = below.filter(lambda v: v <= lo if lo_open else v < lo)  # -0.0 == 0.0 is in range
        above = st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False)
        value = data.draw(st.one_of(below, above))
    with pytest.raises(ConfigError) as info:
        make(field, value).validate()
    assert_names(info.value, field, value)
    # the JSON door says the same
    with pytest.raises(ConfigError) as info2:
        RunConfig.from_json(json.dumps(as_dict(field, value)))
    assert info2.value.field == field


def test_huge_integers_are_a_config_error_not_overflow() -> None:
    """json.loads turns a 400-digit number into an int; math.isfinite(int) then raised OverflowError."""
    huge = 10**400
    for field in ("lr", "depth", "bias_init", "init.std"):
        with pytest.raises(ConfigError) as info:
            make(field, huge).validate()
        assert info.value.field == field
    with pytest.raises(ConfigError) as info:
        RunConfig.from_json('{"lr": 1' + "0" * 400 + "}")
    assert info.value.field == "lr"


def test_nan_and_infinity_in_json_are_refused() -> None:
    for text, field in [('{"lr": NaN}', "lr"), ('{"bias_init": Infinity}', "bias_init"),
                        ('{"init": {"scheme": "normal", "std": -Infinity}}', "init.std")]:
        with pytest.raises(ConfigError) as info:
            RunConfig.from_json(text)
        assert info.value.field == field


# --- JSON round trip of arbitrary valid configs ---------------------------------------------
def _num(lo: float, hi: float, lo_open: bool = False) -> st.SearchStrategy[float]:
    floats = st.floats(min_value=lo, max_value=hi, exclude_min=lo_open, allow_nan=False, allow_infinity=False)
    ints = st.integers(math.floor(lo) + (1 if lo_open and float(lo).is_integer() else 0), math.floor(hi))
    ints = ints.filter(lambda v: lo < v if lo_open else lo <= v)
    return st.one_of(floats, ints)


init_specs = st.builds(
    InitSpec,
    scheme=st.sampled_from(INIT_SCHEMES),
    std=_num(0.0, 1e6),
    value=_num(-1e6, 1e6),
    bound=_num(0.0, 1e6),
    gain=_num(0.0, 1e6),
    mode=st.sampled_from(MODES),
    nonlinearity=st.sampled_from(NONLINEARITIES),
)
run_configs = st.builds(
    RunConfig,
    dataset=st.sampled_from(DATASETS),
    depth=st.integers(1, 200),
    width=st.integers(1, 4096),
    activation=st.sampled_from(ACTIVATIONS),
    init=init_specs,
    bias_init=_num(-1e6, 1e6),
    bias_std=_num(0.0, 1e6),
    batchnorm=st.booleans(),
    dropout=_num(0.0, 0.95),
    optimizer=st.sampled_from(OPTIMIZERS),
    lr=_num(0.0, 100.0, lo_open=True),
    momentum=_num(0.0, 0.999),
    batch_size=st.integers(2, 4096),
    seed=st.integers(0, 2**31 - 1),
    device=st.just("cpu"),
    record_every=st.integers(1, 1_000_000),
    test_every=st.integers(1, 1_000_000),
    input_dim=st.integers(1, 4096),
)


@SETTINGS
@given(cfg=run_configs)
def test_json_round_trip(cfg: RunConfig) -> None:
    assert cfg.validate() is cfg
    text = cfg.to_json()
    back = RunConfig.from_json(text)
    assert back == cfg
    assert isinstance(back.init, InitSpec)
    assert back.to_json() == text
    assert RunConfig.from_dict(json.loads(text)) == cfg


@SETTINGS
@given(cfg=run_configs, key=st.text(min_size=1, max_size=12))
def test_unknown_keys_are_refused(cfg: RunConfig, key: str) -> None:
    d = cfg.to_dict()
    if key not in d:
        with pytest.raises(ConfigError) as info:
            RunConfig.from_dict({**d, key: 1})
        assert info.value.field == key and "unknown" in info.value.allowed and "depth" in info.value.allowed
    if key not in d["init"]:
        with pytest.raises(ConfigError) as info:
            RunConfig.from_dict({**d, "init": {**d["init"], key: 1}})
        assert info.value.field == f"init.{key}" and "scheme" in info.value.allowed


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_as_a_plain_string(scheme: str) -> None:
    cfg = RunConfig.from_json(json.dumps({"init": scheme, "depth": 4}))
    assert cfg.init == InitSpec(scheme=scheme)
    assert RunConfig.from_dict({"init": scheme}).init.scheme == scheme
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"init": scheme + "x"})
    assert info.value.field == "init.scheme"


def test_init_as_a_mapping_in_the_constructor() -> None:
    cfg = RunConfig(init={"scheme": "normal", "std": 0.2})  # type: ignore[arg-type]
    assert cfg.init == InitSpec("normal", std=0.2)


def test_missing_keys_take_defaults() -> None:
    assert RunConfig.from_json("{}") == RunConfig()
    assert RunConfig.from_json('{"init": {"std": 0.3}}').init == InitSpec(std=0.3)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"depth"', "3", "null", '{"init": 3}', '{"init": [1]}'])
def test_malformed_json_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig.from_json(text)
    assert info.value.field in ("config", "init")


def test_replace_validates_and_merges_init() -> None:
    cfg = RunConfig(init=InitSpec("normal", std=0.3))
    new = cfg.replace(depth=5, init={"std": 0.7})
    assert new.depth == 5 and new.init == InitSpec("normal", std=0.7) and cfg.depth == 10
    with pytest.raises(ConfigError) as info:
        cfg.replace(lr=0)
    assert_names(info.value, "lr", 0)
    with pytest.raises(ConfigError):
        cfg.replace(init={"mode": "both"})


def test_configs_are_frozen_and_hashable() -> None:
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.depth = 3  # type: ignore[misc]
    assert hash(cfg) == hash(RunConfig())


def test_resolved_nonlinearity() -> None:
    assert RunConfig(activation="gelu").resolved_nonlinearity() == "relu"
    assert RunConfig(activation="elu").resolved_nonlinearity() == "relu"
    assert RunConfig(activation="tanh").resolved_nonlinearity() == "tanh"
    assert RunConfig(activation="tanh", init=InitSpec(nonlinearity="linear")).resolved_nonlinearity() == "linear"
