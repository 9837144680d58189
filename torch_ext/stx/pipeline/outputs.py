"""Output folders and JSON files, through the C++ training layer (include/stx/train/commands.h):
nothing a user already has is overwritten unless they pass --force, an unwritable --out fails before
any work, and every file is written through a temporary file (NaN becomes null in JSON)."""
from __future__ import annotations

from pathlib import Path

from stx._C import train as _train


def prepare_out_dir(out: str | Path, force: bool) -> Path:
    _train.prepare_out(str(out), force)
    return Path(out)


def write_json(path: Path, payload) -> None:
    _train.write_json(str(path), payload)
