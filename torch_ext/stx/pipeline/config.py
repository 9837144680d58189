"""The pipeline's config, read from JSON or YAML. Every key, default, type and range is the C++
training layer's schema (``stx._C.train.config_schema()``, include/stx/train/config.h): this module
restates none of them. Unknown keys and impossible values are errors that name the key.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from stx._C import train as _train


@lru_cache(maxsize=None)
def _schema_text() -> str:
    return _train.config_schema()


def schema() -> list[dict]:
    """The config schema: one dict per key (name, type, default, doc, min, max, choices, used_by, flag)."""
    return json.loads(_schema_text())


def schema_key(name: str) -> dict:
    for key in schema():
        if key["name"] == name:
            return key
    raise KeyError(name)


class PipelineConfig:
    """A validated config (the schema's defaults overlaid with ``values``); attribute access per key."""

    def __init__(self, _source: str = "config", **values):
        native = _train.Config(values, _source)
        object.__setattr__(self, "native", native)
        object.__setattr__(self, "_values", json.loads(native.json))

    def __getattr__(self, name: str):
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"config has no key {name!r}")

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a PipelineConfig is immutable; use replace(key=value)")

    def replace(self, **changes) -> "PipelineConfig":
        return PipelineConfig(**{**self._values, **changes})

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._values))

    def __eq__(self, other) -> bool:
        return isinstance(other, PipelineConfig) and self._values == other._values

    def __repr__(self) -> str:
        return f"PipelineConfig({self._values})"


def read_config_file(path: str | Path) -> dict:
    """The mapping in a JSON or YAML (by extension) file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"config file {path} is not UTF-8 text (byte {exc.start}, line {line})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
        values = {} if values is None else values
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path}: the config must be a mapping of keys to values")
    return values


def load_config(path: str | Path | None, overrides: dict | None = None) -> PipelineConfig:
    """Defaults, then the file, then command-line overrides (None means not given)."""
    values = read_config_file(path) if path is not None else {}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return PipelineConfig(str(path) if path is not None else "config", **values)
