// CPU dispatch: the report, the instruction-set override, and identical results from every
// version of the multi-versioned kernels this machine can run (and from the int8 screen on/off).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <stx/ops/cpu_dispatch.h>
#include <stx/ops/label_pool.h>
#include <stx/ops/retrieval.h>
#include <stx/ops/soft_labels.h>

namespace {

// The value of a top-level string field of the (flat-enough) JSON report.
std::string field(const std::string& json, const std::string& key) {
  const std::string tag = "\"" + key + "\": \"";
  const auto at = json.find(tag);
  if (at == std::string::npos) return "";
  const auto begin = at + tag.size();
  return json.substr(begin, json.find('"', begin) - begin);
}

std::vector<std::string> runnable_isas() {
  const std::string hw = field(stx::ops::cpu_dispatch_report(), "isa_hardware");
  std::vector<std::string> out = {"baseline"};
  if (hw == "avx2" || hw == "avx512") out.push_back("avx2");
  if (hw == "avx512") out.push_back("avx512");
  return out;
}

// Restores the automatic level and the screen variable when a test ends.
struct DispatchGuard {
  ~DispatchGuard() {
    stx::ops::set_cpu_isa("auto");
    unsetenv("STX_COSINE_TOPK_SCREEN");
  }
};

// Every op whose CPU kernels use the row kernels, on inputs that reach each of their paths.
std::vector<at::Tensor> run_ops() {
  at::manual_seed(3);
  std::vector<at::Tensor> out;
  const at::Tensor q = at::randn({300, 40}), b = at::randn({5000, 40});
  const at::Tensor mask = at::rand({5000}) > 0.2;
  for (const char* metric : {"cosine", "ip", "l2"}) {
    auto [s, i] = stx::ops::cosine_topk(q, b, 30, metric);  // first tile: bounded scan
    out.insert(out.end(), {s, i});
  }
  auto [sm, im] = stx::ops::cosine_topk(q, b, 30, "cosine", mask, true);  // threshold scan
  auto [sd, id] = stx::ops::cosine_topk(q.to(at::kDouble), b.to(at::kDouble), 300);
  out.insert(out.end(), {sm, im, sd, id});
  setenv("STX_COSINE_TOPK_SCREEN", "1", 1);
  auto [ss, is] = stx::ops::cosine_topk(q, b, 30);  // int8 screen + float32 rescoring
  unsetenv("STX_COSINE_TOPK_SCREEN");
  out.insert(out.end(), {ss, is});

  const at::Tensor values = at::randn({5000, 70}).requires_grad_(true);
  const at::Tensor scores = sm.detach().clone().requires_grad_(true);
  auto [soft, conf] = stx::ops::soft_labels(im, scores, std::nullopt, values, "softmax", 0.5);
  (soft.square().sum() + conf.sum()).backward();
  out.insert(out.end(), {soft, conf, values.grad(), scores.grad()});

  const at::Tensor dense = at::randn({1, 19, 33, 29}).requires_grad_(true);
  const at::Tensor labels = at::randint(0, 50, {1, 33, 29}, at::kLong);
  auto [pooled, count] = stx::ops::label_pool(dense, labels, 50, "mean");
  pooled.square().sum().backward();
  out.insert(out.end(), {pooled, count, dense.grad()});
  return out;
}

TEST(CpuDispatch, ReportNamesCpuFeaturesAndDecisions) {
  const std::string r = stx::ops::cpu_dispatch_report();
  for (const char* key : {"\"cpu\"", "\"features\"", "\"active_features\"", "\"isa\"", "\"isa_source\"",
                          "\"int8_gemm\"", "\"cosine_topk_int8_screen\""}) {
    EXPECT_NE(r.find(key), std::string::npos) << key << " missing from " << r;
  }
  const std::string isa = field(r, "isa");
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "baseline") << r;
}

TEST(CpuDispatch, EveryKernelVersionGivesIdenticalResults) {
  DispatchGuard guard;
  const auto isas = runnable_isas();
  stx::ops::set_cpu_isa("baseline");
  ASSERT_EQ(field(stx::ops::cpu_dispatch_report(), "isa"), "baseline");
  const auto reference = run_ops();
  for (const auto& isa : isas) {
    stx::ops::set_cpu_isa(isa);
    ASSERT_EQ(field(stx::ops::cpu_dispatch_report(), "isa"), isa);
    ASSERT_EQ(field(stx::ops::cpu_dispatch_report(), "isa_source"), "set_cpu_isa");
    const auto got = run_ops();
    ASSERT_EQ(got.size(), reference.size());
    for (size_t j = 0; j < got.size(); ++j) EXPECT_TRUE(at::equal(got[j], reference[j])) << isa << ", output " << j;
  }
}

TEST(CpuDispatch, LevelsWithoutVnniScreenOnTheAvx2KernelOnlyWhenItPays) {
  DispatchGuard guard;
  stx::ops::set_cpu_isa("avx2");  // what an AVX2-only CPU (no VNNI, no AMX) reports
  const std::string r = stx::ops::cpu_dispatch_report(/*calibrate=*/true);
  EXPECT_NE(r.find("\"engine\": \"avx2_maddubs\""), std::string::npos) << r;
  const bool fast = r.find("\"fast\": true") != std::string::npos;
  EXPECT_EQ(field(r, "cosine_topk_int8_screen").rfind(fast ? "on" : "off", 0), 0u) << r;
  const auto begin = r.find("\"active_features\": [");
  const std::string active = r.substr(begin, r.find(']', begin) - begin);
  EXPECT_EQ(active.find("vnni"), std::string::npos) << r;
  EXPECT_EQ(active.find("avx512"), std::string::npos) << r;
  // A problem just large enough for the screen (the size rule of retrieval_screen.h): the automatic
  // choice equals the forced path of the calibration's verdict bit for bit (the screened path
  // rescores with a different summation order). One bank row fewer: the float32 path.
  const auto number_after = [&r](const std::string& key) { return std::stoll(r.substr(r.find(key) + key.size())); };
  const int64_t min_queries = number_after("\"queries\": "), min_bank = number_after("\"bank\": ");
  EXPECT_EQ(min_queries, 512);
  EXPECT_EQ(min_bank, 100000);
  at::manual_seed(5);
  const at::Tensor q = at::randn({min_queries, 64});
  const at::Tensor b = at::randn({min_bank, 64});
  const at::Tensor small = b.slice(0, 1);
  auto [s_auto, i_auto] = stx::ops::cosine_topk(q, b, 20);
  auto [small_auto, small_auto_i] = stx::ops::cosine_topk(q, small, 20);
  setenv("STX_COSINE_TOPK_SCREEN", fast ? "1" : "0", 1);
  auto [s_forced, i_forced] = stx::ops::cosine_topk(q, b, 20);
  setenv("STX_COSINE_TOPK_SCREEN", "0", 1);
  auto [small_f32, small_f32_i] = stx::ops::cosine_topk(q, small, 20);
  unsetenv("STX_COSINE_TOPK_SCREEN");
  EXPECT_TRUE(at::equal(s_auto, s_forced));
  EXPECT_TRUE(at::equal(i_auto, i_forced));
  EXPECT_TRUE(at::equal(small_auto, small_f32));
}

TEST(CpuDispatch, BadLevelsAreErrors) {
  DispatchGuard guard;
  EXPECT_THROW(stx::ops::set_cpu_isa("sse9"), c10::Error);
  if (field(stx::ops::cpu_dispatch_report(), "isa_hardware") != "avx512") {
    EXPECT_THROW(stx::ops::set_cpu_isa("avx512"), c10::Error);
  }
  setenv("STX_COSINE_TOPK_SCREEN", "yes", 1);
  EXPECT_THROW(stx::ops::cosine_topk(at::randn({4, 8}), at::randn({9, 8}), 2), c10::Error);
}

}  // namespace
