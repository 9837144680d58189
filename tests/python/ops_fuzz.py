"""Seeded property-based runner over the argument space of every torch.ops.stx operator.

Each case starts from a small valid call (op_cases.py) and applies 1-3 random mutations: dtype,
shape (dims dropped / added / zero / off by a few), values (NaN, infinities, negative, huge,
out-of-range indices), layout (non-contiguous, stride-0 broadcast), device (meta, alone or mixed
with CPU), and integer / float / string arguments (0, negative, 2^31, 2^40, 2^62, NaN, ...). Per
case the op must either

* raise RuntimeError / ValueError whose message names the op or one of its arguments (and is not
  an allocation failure, unless the outputs asked for are themselves huge: sizes must be checked
  before allocating), or
* return tensors with the shapes and dtypes its fake kernel gives for the same arguments, finite
  when the inputs are moderate and finite (NaN only where the op documents it), and equal to the
  result on contiguous inputs when only the layout was changed.

A hang is cut by faulthandler after --case-seconds (the process exits with a traceback); a crash
kills the process. Run it in a child process (tests/python/test_ops_fuzz.py does): each case is
printed before it runs, so the last line names the culprit.

    STX_BUILD_DIR=build/dev PYTHONPATH=torch_ext python tests/python/ops_fuzz.py --seed 0 --seconds 60
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import random
import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from op_cases import VALID_CALLS  # noqa: E402

# Ops whose documented result may be NaN for finite inputs (a constant column has no correlation; a map
# without nuclei has no quality).
NAN_ALLOWED = {"pearson_per_gene", "morans_i", "instance_metrics", "instance_class_metrics"}
# Ops whose results may be infinite or NaN for finite inputs when the caller removes the guard
# (pearson_loss with eps = 0 divides by a constant series' zero norm): the finiteness check is off.
UNGUARDED = {"pearson_loss": lambda args: args[3] == 0, "_pearson_loss_backward": lambda args: args[4] == 0}
# Ops returning (scores, index) padded with (-inf, -1) when fewer than k candidates exist.
PADDED = {"cosine_topk", "merge_topk"}
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64, torch.bool,
          torch.uint8]
BIG_INTS = [0, -1, -2, 2**31, 2**40, 2**62, -(2**31)]
ODD_FLOATS = [float("nan"), float("inf"), float("-inf"), 0.0, -1.0, 1e-300, 1e300]
LAYOUT = {"noncontiguous", "broadcast"}


class Failure(AssertionError):
    pass


def describe(args) -> str:
    def one(a):
        if isinstance(a, torch.Tensor):
            return f"T{tuple(a.shape)}:{str(a.dtype)[6:]}:{a.device.type}{'' if a.is_contiguous() else ':nc'}"
        return repr(a)
    return "(" + ", ".join(one(a) for a in args) + ")"


def mutate_tensor(rng: random.Random, t: torch.Tensor) -> tuple[torch.Tensor, str]:
    if t.device.type == "meta":  # no values to change: dtype or shape only, staying on meta
        out, kind = mutate_tensor(rng, torch.zeros(t.shape, dtype=t.dtype))
        return out.to("meta"), kind
    kind = rng.choice(["dtype", "shape", "nan", "inf", "negative", "huge", "index", "noncontiguous", "broadcast",
                       "meta", "empty"])
    if kind == "dtype":
        return t.to(rng.choice(DTYPES)), kind
    if kind == "shape":
        shape = list(t.shape)
        how = rng.choice(["drop", "add", "grow", "shrink"]) if shape else "add"
        if how == "drop":
            shape.pop(rng.randrange(len(shape)))
        elif how == "add":
            shape.insert(rng.randrange(len(shape) + 1), rng.choice([1, 2, 3]))
        else:
            d = rng.randrange(len(shape))
            shape[d] = max(0, shape[d] + (rng.randint(1, 3) if how == "grow" else -rng.randint(1, 3)))
        return (torch.rand(shape) * 4).to(t.dtype) if t.dtype != torch.bool else torch.rand(shape) > 0.5, kind
    if kind == "empty" and t.dim() > 0:
        shape = list(t.shape)
        shape[rng.randrange(len(shape))] = 0
        return t.new_zeros(shape), kind
    if t.numel() == 0 or t.dim() == 0 and kind in LAYOUT:
        return t, "none"
    flat = t.clone().reshape(-1)
    i = rng.randrange(flat.numel())
    if kind in ("nan", "inf", "huge") and t.is_floating_point():
        flat[i] = {"nan": float("nan"), "inf": rng.choice([float("inf"), float("-inf")]), "huge": 1e30}[kind]
        return flat.reshape(t.shape), kind
    if kind == "negative" and t.dtype not in (torch.bool, torch.uint8):
        flat[i] = -flat[i].abs() - rng.choice([1, 2, 1000])
        return flat.reshape(t.shape), kind
    if kind == "index" and t.dtype in (torch.int32, torch.int64):
        flat[i] = rng.choice([-2, -1, 2**31 - 1, int(t.max().item()) + 1 if t.numel() else 1])
        return flat.reshape(t.shape), kind
    if kind == "noncontiguous" and t.dim() >= 2:
        return t.mT.contiguous().mT, kind
    if kind == "noncontiguous" and t.dim() == 1 and t.numel() > 0:
        return torch.stack([t, t], 1)[:, 0], kind
    if kind == "broadcast" and t.dim() >= 1 and t.numel() > 0:
        return t[:1].expand(t.shape), kind
    if kind == "meta":
        return t.to("meta"), kind
    return t, "none"


def mutate_scalar(rng: random.Random, a):
    if isinstance(a, bool) or isinstance(a, list):
        return a, "none"
    if isinstance(a, int):
        return rng.choice(BIG_INTS + [a + 1, a - 1]), "int"
    if isinstance(a, float):
        return rng.choice(ODD_FLOATS), "float"
    if isinstance(a, str):
        return rng.choice(["", "bogus", a.upper()]), "str"
    return a, "none"


def make_case(rng: random.Random, name: str):
    op, args = VALID_CALLS[name]()
    schema = op.default._schema
    # Also exercise the optional trailing arguments (str / int / float) with their defaults.
    for arg in schema.arguments[len(args):]:
        if arg.has_default_value() and isinstance(arg.default_value, (str, int, float)) \
                and not isinstance(arg.default_value, bool):
            args.append(arg.default_value)
        else:
            break
    kinds = []
    if rng.random() < 0.03:
        args = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
        kinds.append("all-meta")
    for _ in range(rng.choice([1, 1, 2, 3])):
        i = rng.randrange(len(args))
        if isinstance(args[i], torch.Tensor):
            args[i], kind = mutate_tensor(rng, args[i])
        else:
            args[i], kind = mutate_scalar(rng, args[i])
        kinds.append(kind)
    return op, args, [a.name for a in schema.arguments], kinds


def outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def moderate_and_finite(args) -> bool:
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point() and a.device.type != "meta" and a.numel():
            if not torch.isfinite(a).all() or a.abs().max() > 1e3:
                return False
        if isinstance(a, float) and (a != a or abs(a) > 1e6 or (0 < abs(a) < 1e-6)):
            return False
    return True


HUGE = re.compile(r"not enough memory|bad_alloc|[Aa]llocat|size calculation overflowed|max_size\(\)")


def fake_output_elements(op, args) -> float | None:
    """Total elements of the outputs the fake kernel gives for ``args``: inf when even their size
    overflows, None when the fake rejects the arguments."""
    try:
        return sum(o.numel() for o in outputs(op(*[a.to("meta") if isinstance(a, torch.Tensor) else a
                                                  for a in args])))
    except (RuntimeError, ValueError) as e:
        return float("inf") if HUGE.search(str(e)) else None


def check_error(name: str, op, args, arg_names: list[str], err: Exception) -> None:
    msg = str(err)
    if isinstance(err, MemoryError) or HUGE.search(msg):
        # Honest only when the caller asked for a huge output (e.g. spot_splat's batch x H x W); an
        # allocation beyond the outputs (a neighbour table, a count table) must be size-checked first.
        elements = fake_output_elements(op, args)
        # A size argument of 2^31 or more is an explicit request for a huge problem (spot_splat's
        # batch_size sizes per-image tables even for an empty image): the allocator's refusal is the
        # honest answer there. Documented limits (k <= N - 1, cell types) have their own tests.
        requested = any(isinstance(a, int) and not isinstance(a, bool) and a >= 2**31 for a in args)
        if not requested and (elements is None or elements < 2**28):
            raise Failure(f"allocation failure instead of a size check (outputs: {elements} elements): {msg[:300]}")
        return
    words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", msg))
    spelled = {a.replace("_", " ") for a in arg_names if "_" in a}  # "batch size" for batch_size
    base = name.lstrip("_").removesuffix("_backward")  # a backward op may speak as its forward op
    if base not in msg and not words & set(arg_names) and not any(a in msg for a in spelled):
        raise Failure(f"error names neither {name} nor an argument {arg_names}: {msg[:300]}")


def check_result(name: str, op, args, out, kinds) -> None:
    got = outputs(out)
    if not all(isinstance(o, torch.Tensor) for o in got):
        raise Failure(f"non-tensor output {type(out)}")
    on_meta = any(isinstance(a, torch.Tensor) and a.device.type == "meta" for a in args)
    if on_meta:
        if not all(o.device.type == "meta" for o in got):
            raise Failure("a call with meta tensors returned non-meta outputs")
        return
    meta = outputs(op(*[a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]))
    for o, m in zip(got, meta):
        if o.shape != m.shape or o.dtype != m.dtype:
            raise Failure(f"output {tuple(o.shape)}:{o.dtype} differs from the fake kernel's {tuple(m.shape)}:{m.dtype}")
    if moderate_and_finite(args) and not UNGUARDED.get(name, lambda a: False)(args):
        for k, o in enumerate(got):
            if o.is_floating_point() and o.numel():
                bad = ~torch.isfinite(o)
                if name in NAN_ALLOWED:
                    bad &= ~torch.isnan(o)
                if name in PADDED and k == 0:  # (scores, index): -inf scores pad the missing neighbours
                    bad &= ~((o == float("-inf")) & (got[1] == -1))
                if bad.any():
                    raise Failure(f"non-finite output for moderate finite inputs: {o.reshape(-1)[:8]}")
    if kinds and set(kinds) <= LAYOUT:
        ref = outputs(op(*[a.contiguous() if isinstance(a, torch.Tensor) else a for a in args]))
        for o, r in zip(got, ref):
            if not torch.equal(o, r) and not torch.allclose(o.double(), r.double(), rtol=1e-5, atol=1e-6,
                                                            equal_nan=True):
                raise Failure("result on non-contiguous / broadcast inputs differs from the contiguous one")


def limit_memory(extra_bytes: int) -> None:
    """Cap the address space at its current size plus ``extra_bytes``, so a size that is not checked
    fails as an allocation error (reported) instead of zero-filling gigabytes. Not under ASan, which
    reserves terabytes of shadow memory (its max_allocation_size_mb does the job there)."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    import resource
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, vm + extra_bytes))


def run(seed: int, max_cases: int, seconds: float, case_seconds: float, verbose: bool, only=None, skip=()) -> int:
    limit_memory(4 << 30)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    names = sorted(n for n in VALID_CALLS if (not only or n in only) and n not in skip)
    failures: list[str] = []
    counts = {"error": 0, "result": 0}
    start = time.monotonic()
    case = 0
    while case < max_cases and time.monotonic() - start < seconds:
        name = names[case % len(names)] if case < len(names) else rng.choice(names)
        op, args, arg_names, kinds = make_case(rng, name)
        line = f"case {case} seed {seed}: {name}{describe(args)} mutations={kinds}"
        if verbose:
            print(line, flush=True)
        faulthandler.dump_traceback_later(case_seconds, exit=True)
        try:
            try:
                out = op(*args)
            except (RuntimeError, ValueError, MemoryError) as err:
                counts["error"] += 1
                check_error(name, op, args, arg_names, err)
            else:
                counts["result"] += 1
                check_result(name, op, args, out, kinds)
        except Failure as f:
            failures.append(f"{line}\n    {f}")
        except Exception as e:  # noqa: BLE001  (any other exception type is a finding)
            failures.append(f"{line}\n    unexpected {type(e).__name__}: {str(e)[:300]}")
        finally:
            faulthandler.cancel_dump_traceback_later()
        case += 1
    print(f"ops_fuzz: seed {seed}: {case} cases in {time.monotonic() - start:.1f}s, {counts['error']} clean errors, "
          f"{counts['result']} results, {len(failures)} failures", flush=True)
    for f in failures[:50]:
        print("FAIL", f, flush=True)
    return 1 if failures else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", type=int, default=2000, help="at most this many cases")
    p.add_argument("--seconds", type=float, default=60.0, help="stop starting new cases after this long")
    p.add_argument("--case-seconds", type=float, default=20.0, help="a case running longer is a hang")
    p.add_argument("--verbose", action="store_true", help="print every case before it runs")
    p.add_argument("--ops", nargs="*", default=None, help="only these ops (default: all)")
    p.add_argument("--skip", nargs="*", default=(), help="leave these ops out")
    a = p.parse_args(argv)
    unknown = (set(a.ops or ()) | set(a.skip)) - set(VALID_CALLS)
    if unknown:
        p.error(f"unknown ops {sorted(unknown)} (known: {sorted(VALID_CALLS)})")
    return run(a.seed, a.cases, a.seconds, a.case_seconds, a.verbose, a.ops, a.skip)


if __name__ == "__main__":
    sys.exit(main())
