"""stx.ops.instance_metrics / instance_class_metrics against a straightforward NumPy definition
(tests/python/instance_reference.py) on random instance maps, a hand-checked case, the edge cases
(empty maps, no match) and bad input; definitions in docs/ops/instance_metrics.md."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import stx
import instance_reference as ref


def assert_same(got: dict, want: dict):
    assert got.keys() == want.keys()
    for k in want:
        if math.isnan(want[k]):
            assert math.isnan(got[k]), k
        else:
            assert got[k] == pytest.approx(want[k], rel=1e-12, abs=1e-12), k


def test_hand_checked_case():
    t = torch.zeros(6, 8, dtype=torch.int32)
    p = torch.zeros(6, 8, dtype=torch.int32)
    t[1:3, 1:3] = 7      # 4 px
    p[1:3, 1:4] = 3      # 6 px covering it: IoU 4/6
    p[4:5, 5:7] = 9      # 2 px, no true nucleus: a false positive
    got = stx.ops.instance_metrics(t, p)
    assert_same(got, {"dice": 2 * 4 / (4 + 8), "aji": 4 / (6 + 2), "dq": 1 / 1.5, "sq": 4 / 6,
                      "pq": (4 / 6) / 1.5, "tp": 1, "fp": 1, "fn": 0})


@pytest.mark.parametrize("seed", range(12))
def test_random_maps_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    t = ref.random_nuclei(rng)
    p = ref.perturb(rng, t)
    for thr in (0.5, 0.7):
        assert_same(stx.ops.instance_metrics(torch.from_numpy(t), torch.from_numpy(p), thr),
                    ref.instance_metrics(t, p, thr))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_label_dtypes_and_layouts_agree(dtype):
    rng = np.random.default_rng(3)
    t = ref.random_nuclei(rng, id_range=120)
    p = ref.perturb(rng, t, extra=0) % 120
    want = ref.instance_metrics(t, p)
    tt, pt = torch.from_numpy(t).to(dtype), torch.from_numpy(p).to(dtype)
    assert_same(stx.ops.instance_metrics(tt, pt), want)
    assert_same(stx.ops.instance_metrics(tt.t().contiguous().t(), pt.t().contiguous().t()), want)


def test_empty_maps_and_no_match():
    empty = torch.zeros(5, 5, dtype=torch.long)
    one = empty.clone()
    one[1:3, 1:3] = 4
    other = empty.clone()
    other[3:5, 3:5] = 2
    got = stx.ops.instance_metrics(empty, empty)
    assert all(math.isnan(got[k]) for k in ("dice", "aji", "dq", "sq", "pq")) and got["tp"] == got["fp"] == 0
    assert_same(stx.ops.instance_metrics(one, empty), {"dice": 0.0, "aji": 0.0, "dq": 0.0, "sq": math.nan,
                                                       "pq": 0.0, "tp": 0, "fp": 0, "fn": 1})
    assert_same(stx.ops.instance_metrics(one, other), ref.instance_metrics(one.numpy(), other.numpy()))
    assert stx.ops.instance_metrics(torch.zeros(0, 4, dtype=torch.long), torch.zeros(0, 4, dtype=torch.long))["tp"] == 0


@pytest.mark.parametrize("seed", range(8))
def test_class_metrics_match_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    t = ref.random_nuclei(rng, count=16)
    p = ref.perturb(rng, t)
    C = 3
    tt = rng.integers(0, C + 1, size=t.shape) * (t > 0)  # per-pixel types; nuclei take the majority
    pt = np.where(rng.random(t.shape) < 0.7, np.roll(tt, 0), rng.integers(0, C + 1, size=t.shape)) * (p > 0)
    got = stx.ops.instance_class_metrics(*(torch.from_numpy(a) for a in (t, p, tt, pt)), C)
    want_pq, want_f1 = ref.instance_class_metrics(t, p, tt, pt, C)
    np.testing.assert_allclose(got["pq"].numpy(), want_pq, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["f1"].numpy(), want_f1, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert got["pq_columns"] == ["dq", "sq", "pq", "tp", "fp", "fn"] and got["f1_columns"][0] == "f1"
    assert got["mpq"] == pytest.approx(np.nanmean(want_pq[:, 2]) if not np.isnan(want_pq[:, 2]).all() else math.nan,
                                       nan_ok=True)


def test_class_of_a_nucleus_is_its_majority_type_and_unknown_true_nuclei_are_ignored():
    t = torch.zeros(4, 8, dtype=torch.long)
    t[:, 0:3] = 1   # 12 px: 7 px type 2, 5 px type 1 -> class 2
    t[:, 4:7] = 2   # type 0 only -> unknown, ignored by f1
    block = torch.ones(4, 3, dtype=torch.long)
    block.view(-1)[:7] = 2
    tt = torch.zeros_like(t)
    tt[:, 0:3] = block
    p, pt = t.clone(), torch.zeros_like(t)
    pt[:, 0:3] = 1  # predicted class 1: a misclassification of a class-2 nucleus
    pt[:, 4:7] = 3  # the unknown one, predicted 3: not counted
    assert ref.nucleus_class(t.numpy(), tt.numpy(), 1, 3) == 2
    got = stx.ops.instance_class_metrics(t, p, tt, pt, 3)
    f1 = got["f1"]
    assert f1[1].tolist()[1:] == [0, 0, 1] and f1[0].tolist()[1:] == [0, 1, 0] and f1[2].tolist()[1:] == [0, 0, 0]
    assert math.isnan(f1[2, 0]) and f1[0, 0] == 0 and f1[1, 0] == 0


@pytest.mark.parametrize("call,match", [
    (lambda t: stx.ops.instance_metrics(t, t[:, :3]), "pred_inst has shape"),
    (lambda t: stx.ops.instance_metrics(t.float(), t), "true_inst must hold integer labels"),
    (lambda t: stx.ops.instance_metrics(t, t.bool()), "pred_inst must hold integer labels"),
    (lambda t: stx.ops.instance_metrics(t[None], t[None]), "true_inst must be a 2-D"),
    (lambda t: stx.ops.instance_metrics(t, -t), "pred_inst holds the negative label"),
    (lambda t: stx.ops.instance_metrics(t, t, 0.3), "iou_threshold must be in \\[0.5, 1\\)"),
    (lambda t: stx.ops.instance_metrics(t, t, float("nan")), "iou_threshold"),
    (lambda t: stx.ops.instance_class_metrics(t, t, t, t * 0, 0), "num_classes must be in"),
    (lambda t: stx.ops.instance_class_metrics(t, t, t, t * 0, 2), "true_type holds the class 3"),
    (lambda t: stx.ops.instance_class_metrics(t, t, t[:1], t, 5), "true_type has shape"),
])
def test_bad_input_is_a_clear_error(call, match):
    t = torch.tensor([[0, 1, 1, 0], [2, 2, 3, 3]])
    with pytest.raises(RuntimeError, match=match):
        call(t)


def test_the_python_keys_are_the_cpp_columns():
    got = stx.ops.instance_metrics(torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.long))
    assert list(got) == list(stx._C.ops.instance_metric_columns) == ["dice", "aji", "dq", "sq", "pq", "tp", "fp", "fn"]


@pytest.mark.parametrize("op,args", [  # every value defined (NaN would compare unequal across the traces)
    (torch.ops.stx.instance_metrics.default, (torch.tensor([[1, 0], [2, 2]]), torch.tensor([[1, 0], [2, 2]]), 0.5)),
    (torch.ops.stx.instance_class_metrics.default,
     (torch.tensor([[1, 0], [2, 2]]), torch.tensor([[1, 0], [2, 2]]), torch.tensor([[1, 0], [2, 2]]),
      torch.tensor([[1, 0], [2, 2]]), 2, 0.5)),
])
def test_opcheck(op, args):
    torch.library.opcheck(op, args)  # schema, fake kernel and dispatch agree (raises otherwise)
