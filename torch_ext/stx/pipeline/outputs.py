"""Output folders: nothing a user already has is overwritten unless they pass --force."""
from __future__ import annotations

import json
from pathlib import Path

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
