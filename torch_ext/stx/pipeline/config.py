"""One configuration for the pipeline, read from JSON or YAML, shared by every sub-command.

Unknown keys, budgets outside (0, 1] and other impossible values are errors that name the key.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

SAMPLERS = ("scrl", "random", "grid", "coreset")


@dataclass
class PipelineConfig:
    seed: int = 0
    budgets: list[float] = field(default_factory=lambda: [0.10, 0.15, 0.25, 0.50])
    samplers: list[str] = field(default_factory=lambda: list(SAMPLERS))
    seeds: int = 1                  # repeats of sampling + training per (sampler, budget)
    top_genes: int = 50             # genes: the top-N by mean expression over training spots
    genes_file: str | None = None   # or an explicit list (.npy or text, one name per line)
    patch_size: int = 32            # pixels of the patch fed to the network
    patch_um: float = 80.0          # physical side of the patch (um), centred on the spot
    steps: int = 150               # optimisation steps per training run (the same for every budget)
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    backbone: str = "small_cnn"     # or a TorchScript file
    width: int = 16                 # SmallCNN width
    retrieval_k: int = 16
    retrieval_types: int = 3        # majority filter: keep the num_types most frequent labels
    soft_weight: float = 0.5        # lambda of the soft-label term
    soft_threshold: float = 0.1     # confidence gate
    contrastive_weight: float = 0.1
    temperature: float = 0.5
    ablation: bool = True           # also train the regression-only model
    scrl_episodes: int = 30         # policy-gradient episodes for the learned sampler
    synthetic_sections: int = 4
    synthetic_image_px: int = 2400  # side of a synthetic section's image (1.25 um/px): ~600 spots
    device: str = "cpu"
    shard_bank: bool = False        # under torch.distributed: each rank keeps only its rows of the bank
    num_threads: int = 0            # 0: torch's default

    def validate(self) -> "PipelineConfig":
        if not self.budgets:
            raise ValueError("config 'budgets' must list at least one budget")
        for b in self.budgets:
            if not (0.0 < float(b) <= 1.0):
                raise ValueError(f"config 'budgets': every budget must be in (0, 1], got {b}")
        unknown = [s for s in self.samplers if s not in SAMPLERS]
        if unknown or not self.samplers:
            raise ValueError(f"config 'samplers': unknown sampler(s) {unknown}; choose from {list(SAMPLERS)}")
        for key in ("steps", "batch_size", "top_genes", "patch_size", "seeds", "retrieval_k", "retrieval_types", "width"):
            if int(getattr(self, key)) <= 0:
                raise ValueError(f"config '{key}' must be a positive integer, got {getattr(self, key)}")
        for key in ("lr", "patch_um", "temperature"):
            if not float(getattr(self, key)) > 0:
                raise ValueError(f"config '{key}' must be > 0, got {getattr(self, key)}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"config 'device' must be cpu or cuda[:i], got {self.device!r}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def config_from_dict(values: dict, source: str = "config") -> PipelineConfig:
    known = {f.name for f in dataclasses.fields(PipelineConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    return PipelineConfig(**values).validate()


def load_config(path: str | Path | None, overrides: dict | None = None) -> PipelineConfig:
    """Defaults, then the file (JSON, or YAML by extension), then command-line overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        text = path.read_text()
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError(f"{path}: the config must be a mapping of keys to values")
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return config_from_dict(values, source=str(path) if path else "config")
