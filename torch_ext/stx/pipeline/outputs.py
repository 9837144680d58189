"""Output folders: nothing a user already has is overwritten unless they pass --force."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

# Files whose presence marks a folder as holding results of an earlier run.
RESULT_FILES = ("metrics.json", "report.md", "checkpoint.pt", "selection.json")


def prepare_out_dir(out: str | Path, force: bool) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a folder")
    if out.is_dir() and not force:
        taken = [name for name in RESULT_FILES if (out / name).exists()]
        if taken:
            raise FileExistsError(
                f"--out {out} already holds results ({', '.join(taken)}); choose another folder or pass --force"
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, payload) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float))
    tmp.replace(path)


def save_checkpoint(payload: dict, path: Path) -> None:
    """Write through a temporary file so an interrupted write never leaves a truncated checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save(payload, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint without executing code: only tensors, containers, strings and numbers are
    accepted (``weights_only=True``); anything else is refused with the file named."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise ValueError(f"--checkpoint {path} cannot be read as an stx checkpoint "
                         f"(only tensors, lists, dicts, strings and numbers are loaded): {exc}") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"--checkpoint {path} is not an stx checkpoint (a {type(ckpt).__name__}, not a dict)")
    return ckpt
