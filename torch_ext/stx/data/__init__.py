"""stx.data: readers for spatial-transcriptomics formats, preprocessing, the synthetic study, and
(from the slides part) slides, patches and the spot dataset. The work is done in C++ (``stx::data``)."""
from __future__ import annotations

from stx import _C

if not hasattr(_C, "data"):
    raise ImportError("stx.data is not available: this libstx was built with STX_WITH_DATA=OFF (no readers); "
                      "rebuild with -DSTX_WITH_DATA=ON")

from stx.data.preprocess import *  # noqa: F401,F403
from stx.data.preprocess import __all__ as _preprocess_all
from stx.data.readers import *  # noqa: F401,F403
from stx.data.readers import __all__ as _readers_all
from stx.data.synthetic import *  # noqa: F401,F403
from stx.data.synthetic import __all__ as _synthetic_all

__all__ = list(_readers_all) + list(_preprocess_all) + list(_synthetic_all)

# The slides/patches/dataset modules come from a parallel part of stx; import them when present.
for _name in ("slides", "dataset"):
    try:
        _module = __import__(f"stx.data.{_name}", fromlist=["__all__"])
    except ModuleNotFoundError as error:  # pragma: no cover - the module is not there yet
        if error.name != f"stx.data.{_name}":
            raise
        continue
    for _symbol in getattr(_module, "__all__", []):
        globals()[_symbol] = getattr(_module, _symbol)
        __all__.append(_symbol)
