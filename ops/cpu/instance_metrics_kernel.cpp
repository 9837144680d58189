// CPU kernels of the instance-metric family. One pass over the pixels builds the overlap table of
// the two instance maps (each nucleus' area and the intersection of every overlapping pair); every
// metric is then computed from that table, never from per-pair mask comparisons.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>
#include <torch/library.h>

#include <stx/ops/instance_metrics.h>

#include "ops/cpu/instance_maps.h"

namespace stx::ops::instance {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kMaxClasses = int64_t{1} << 20;

void check_same_shape(const char* op, const char* name, const at::Tensor& map, const at::Tensor& true_inst) {
  TORCH_CHECK(map.sizes() == true_inst.sizes(), op, ": ", name, " has shape ", map.sizes(),
              " but true_inst has shape ", true_inst.sizes(), " (every map must cover the same pixels)");
}

void check_threshold(const char* op, double iou_threshold) {
  // Above 0.5 two nuclei of one map cannot both overlap a third by more than half of their union,
  // so matching by threshold is unique (Kirillov et al., panoptic segmentation).
  TORCH_CHECK(iou_threshold >= 0.5 && iou_threshold < 1.0, op, ": iou_threshold must be in [0.5, 1), got ",
              iou_threshold);
}

struct Pair {
  int32_t t, p;
  int64_t inter;
};

// The two maps and every overlapping pair, sorted by (true index, predicted index).
struct Overlap {
  DenseMap t, p;
  std::vector<Pair> pairs;
  int64_t both_foreground = 0;

  double iou(const Pair& q) const {
    return static_cast<double>(q.inter) / static_cast<double>(t.area[q.t] + p.area[q.p] - q.inter);
  }
};

Overlap overlap(const char* op, const at::Tensor& true_inst, const at::Tensor& pred_inst) {
  Overlap o{densify(op, "true_inst", true_inst), densify(op, "pred_inst", pred_inst), {}, 0};
  std::unordered_map<uint64_t, int64_t> inter;
  uint64_t last_key = 0;
  int64_t* last_count = nullptr;
  for (size_t i = 0; i < o.t.index.size(); ++i) {
    const int32_t a = o.t.index[i], b = o.p.index[i];
    if (a == 0 || b == 0) continue;
    ++o.both_foreground;
    const uint64_t key = (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
    if (last_count == nullptr || key != last_key) {
      last_key = key;
      last_count = &inter[key];  // unordered_map references stay valid across insertions
    }
    ++*last_count;
  }
  o.pairs.reserve(inter.size());
  for (const auto& [key, count] : inter) {
    o.pairs.push_back({static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xffffffffu), count});
  }
  std::sort(o.pairs.begin(), o.pairs.end(),
            [](const Pair& x, const Pair& y) { return x.t != y.t ? x.t < y.t : x.p < y.p; });
  return o;
}

struct Quality {
  double dq, sq, pq;
};

// Panoptic quality: PQ = sum of matched IoUs / (TP + FP/2 + FN/2) = DQ x SQ; NaN with nothing to count.
Quality quality(int64_t tp, int64_t fp, int64_t fn, double sum_iou) {
  const double denom = static_cast<double>(tp) + 0.5 * static_cast<double>(fp + fn);
  return {denom > 0 ? tp / denom : kNaN, tp > 0 ? sum_iou / tp : kNaN, denom > 0 ? sum_iou / denom : kNaN};
}

// Aggregated Jaccard Index (Kumar et al. 2017): each true nucleus with the predicted nucleus of highest
// IoU (ties: the lower id; a predicted nucleus may serve several), plus the area of every unused one.
double aggregated_jaccard(const Overlap& o) {
  std::vector<const Pair*> best(static_cast<size_t>(o.t.count() + 1), nullptr);
  for (const Pair& q : o.pairs) {
    if (best[q.t] == nullptr || o.iou(q) > o.iou(*best[q.t])) best[q.t] = &q;
  }
  std::vector<char> used(static_cast<size_t>(o.p.count() + 1), 0);
  int64_t intersection = 0, union_area = 0;
  for (int64_t a = 1; a <= o.t.count(); ++a) {
    if (best[a] == nullptr) {
      union_area += o.t.area[a];
      continue;
    }
    intersection += best[a]->inter;
    union_area += o.t.area[a] + o.p.area[best[a]->p] - best[a]->inter;
    used[best[a]->p] = 1;
  }
  for (int64_t b = 1; b <= o.p.count(); ++b) {
    if (!used[b]) union_area += o.p.area[b];
  }
  return union_area > 0 ? static_cast<double>(intersection) / static_cast<double>(union_area) : kNaN;
}

at::Tensor instance_metrics_cpu(const at::Tensor& true_inst, const at::Tensor& pred_inst, double iou_threshold) {
  constexpr const char* op = "instance_metrics";
  check_instance_map(op, "true_inst", true_inst);
  check_instance_map(op, "pred_inst", pred_inst);
  check_same_shape(op, "pred_inst", pred_inst, true_inst);
  check_threshold(op, iou_threshold);
  const Overlap o = overlap(op, true_inst, pred_inst);

  int64_t tp = 0;
  double sum_iou = 0;
  for (const Pair& q : o.pairs) {
    const double iou = o.iou(q);
    if (iou > iou_threshold) {
      ++tp;
      sum_iou += iou;
    }
  }
  const int64_t fp = o.p.count() - tp, fn = o.t.count() - tp;
  const Quality pq = quality(tp, fp, fn, sum_iou);
  const auto pixels = static_cast<int64_t>(o.t.index.size());
  const int64_t foreground = (pixels - o.t.area[0]) + (pixels - o.p.area[0]);
  const double dice = foreground > 0 ? 2.0 * static_cast<double>(o.both_foreground) / foreground : kNaN;

  at::Tensor out = at::empty({static_cast<int64_t>(kInstanceMetricColumns.size())}, at::kDouble);
  double* r = out.mutable_data_ptr<double>();
  const double values[] = {dice, aggregated_jaccard(o), pq.dq, pq.sq, pq.pq, double(tp), double(fp), double(fn)};
  std::copy(std::begin(values), std::end(values), r);
  return out;
}

// Each nucleus' class: the most frequent non-zero type over its pixels (ties: the smaller class), else 0.
std::vector<int64_t> nucleus_classes(const char* op, const char* name, const DenseMap& map, const at::Tensor& types,
                                     int64_t num_classes) {
  const at::Tensor t = types.to(at::kLong).contiguous();
  const int64_t* tp = t.const_data_ptr<int64_t>();
  std::unordered_map<uint64_t, int64_t> votes;  // (nucleus, class) -> pixels
  for (size_t i = 0; i < map.index.size(); ++i) {
    TORCH_CHECK(tp[i] >= 0 && tp[i] <= num_classes, op, ": ", name, " holds the class ", tp[i],
                " at pixel ", i, ", outside [0, num_classes = ", num_classes, "]");
    if (map.index[i] != 0 && tp[i] != 0) ++votes[(static_cast<uint64_t>(map.index[i]) << 21) | uint64_t(tp[i])];
  }
  std::vector<int64_t> cls(static_cast<size_t>(map.count() + 1), 0), best(cls.size(), 0);
  for (const auto& [key, count] : votes) {
    const auto nucleus = static_cast<size_t>(key >> 21);
    const auto c = static_cast<int64_t>(key & ((uint64_t{1} << 21) - 1));
    if (count > best[nucleus] || (count == best[nucleus] && c < cls[nucleus])) {
      best[nucleus] = count;
      cls[nucleus] = c;
    }
  }
  return cls;
}

std::tuple<at::Tensor, at::Tensor> instance_class_metrics_cpu(const at::Tensor& true_inst, const at::Tensor& pred_inst,
                                                              const at::Tensor& true_type, const at::Tensor& pred_type,
                                                              int64_t num_classes, double iou_threshold) {
  constexpr const char* op = "instance_class_metrics";
  check_instance_map(op, "true_inst", true_inst);
  check_instance_map(op, "pred_inst", pred_inst);
  check_instance_map(op, "true_type", true_type);
  check_instance_map(op, "pred_type", pred_type);
  check_same_shape(op, "pred_inst", pred_inst, true_inst);
  check_same_shape(op, "true_type", true_type, true_inst);
  check_same_shape(op, "pred_type", pred_type, true_inst);
  TORCH_CHECK(num_classes >= 1 && num_classes <= kMaxClasses, op, ": num_classes must be in [1, 2^20], got ",
              num_classes);
  check_threshold(op, iou_threshold);
  const Overlap o = overlap(op, true_inst, pred_inst);
  const auto true_class = nucleus_classes(op, "true_type", o.t, true_type, num_classes);
  const auto pred_class = nucleus_classes(op, "pred_type", o.p, pred_type, num_classes);

  const auto C = static_cast<size_t>(num_classes + 1);
  std::vector<int64_t> n_true(C, 0), n_pred(C, 0), tp(C, 0), cls_tp(C, 0), cls_fp(C, 0), cls_fn(C, 0);
  std::vector<double> sum_iou(C, 0.0);
  for (int64_t a = 1; a <= o.t.count(); ++a) ++n_true[true_class[a]];
  for (int64_t b = 1; b <= o.p.count(); ++b) ++n_pred[pred_class[b]];
  for (const Pair& q : o.pairs) {
    const double iou = o.iou(q);
    if (!(iou > iou_threshold)) continue;
    const int64_t ct = true_class[q.t], cp = pred_class[q.p];
    if (ct == cp) {  // class 0 (no type) is no class: its nuclei count nowhere
      ++tp[ct];
      sum_iou[ct] += iou;
      ++cls_tp[ct];
    } else if (ct != 0) {  // a true nucleus of unknown type cannot be misclassified
      ++cls_fn[ct];
      ++cls_fp[cp];
    }
  }

  at::Tensor pq = at::empty({num_classes, static_cast<int64_t>(kClassPQColumns.size())}, at::kDouble);
  at::Tensor f1 = at::empty({num_classes, static_cast<int64_t>(kClassF1Columns.size())}, at::kDouble);
  double* pq_row = pq.mutable_data_ptr<double>();
  double* f1_row = f1.mutable_data_ptr<double>();
  for (size_t c = 1; c < C; ++c, pq_row += kClassPQColumns.size(), f1_row += kClassF1Columns.size()) {
    const int64_t fp = n_pred[c] - tp[c], fn = n_true[c] - tp[c];
    const Quality q = quality(tp[c], fp, fn, sum_iou[c]);
    const double row[] = {q.dq, q.sq, q.pq, double(tp[c]), double(fp), double(fn)};
    std::copy(std::begin(row), std::end(row), pq_row);
    const int64_t denom = 2 * cls_tp[c] + cls_fp[c] + cls_fn[c];
    f1_row[0] = denom > 0 ? 2.0 * static_cast<double>(cls_tp[c]) / static_cast<double>(denom) : kNaN;
    f1_row[1] = double(cls_tp[c]);
    f1_row[2] = double(cls_fp[c]);
    f1_row[3] = double(cls_fn[c]);
  }
  return {pq, f1};
}

}  // namespace
}  // namespace stx::ops::instance

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("instance_metrics", &stx::ops::instance::instance_metrics_cpu);
  m.impl("instance_class_metrics", &stx::ops::instance::instance_class_metrics_cpu);
}
