// The dispatch report and the instruction-set override (include/stx/ops/cpu_dispatch.h), and their
// operators torch.ops.stx._cpu_dispatch / _set_cpu_isa.
#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>
#include <stx/ops/cpu_dispatch.h>
#include <torch/library.h>

#include <sstream>

#include "ops/cpu/cpu_features.h"
#include "ops/cpu/int8_gemm_probe.h"
#include "ops/cpu/retrieval_screen.h"

namespace stx::ops {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string feature_list(const cpu::Features& f) {
  const std::pair<const char*, bool> named[] = {{"avx2", f.avx2},
                                                {"fma", f.fma},
                                                {"avx512f", f.avx512f},
                                                {"avx512bw", f.avx512bw},
                                                {"avx512_vnni", f.avx512_vnni},
                                                {"avx_vnni", f.avx_vnni},
                                                {"amx_int8", f.amx_int8}};
  std::string out = "[";
  for (const auto& [name, has] : named) {
    if (!has) continue;
    if (out.size() > 1) out += ", ";
    out += json_string(name);
  }
  return out + "]";
}

std::string cpu_dispatch_op(bool calibrate) { return cpu_dispatch_report(calibrate); }
std::string set_cpu_isa_op(c10::string_view isa) { return set_cpu_isa(std::string(isa)); }

}  // namespace

std::string cpu_dispatch_report(bool calibrate) {
  const cpu::Int8GemmVerdict v = cpu::int8_gemm_verdict(calibrate);
  std::ostringstream os;
  os << "{\"cpu\": " << json_string(cpu::cpu_model()) << ", \"features\": " << feature_list(cpu::hardware_features())
     << ", \"active_features\": " << feature_list(cpu::active_features())
     << ", \"isa_hardware\": " << json_string(cpu::isa_name(cpu::hardware_isa()))
     << ", \"isa\": " << json_string(cpu::isa_name(cpu::active_isa()))
     << ", \"isa_source\": " << json_string(cpu::active_isa_source())
     << ", \"int8_gemm\": {\"dot_product_isa\": " << (v.has_dot_product_isa ? "true" : "false")
     << ", \"avx2_kernel\": " << (v.has_avx2_kernel ? "true" : "false")
     << ", \"calibrated\": " << (v.calibrated ? "true" : "false")
     << ", \"engine\": " << json_string(cpu::engine_name(v.engine))
     << ", \"onednn_speedup\": " << v.onednn_speedup << ", \"avx2_speedup\": " << v.avx2_speedup
     << ", \"speedup_over_float32\": " << v.speedup << ", \"required_speedup\": " << v.required
     << ", \"fast\": " << (v.fast ? "true" : "false") << "}"
     << ", \"cosine_topk_int8_screen\": " << json_string(retrieval::screen_policy(calibrate))
     << ", \"cosine_topk_int8_screen_min\": {\"queries\": " << retrieval::kScreenMinQueries
     << ", \"bank\": " << retrieval::kScreenMinBank << ", \"dim\": " << retrieval::kScreenMinDim << "}}";
  return os.str();
}

std::string set_cpu_isa(const std::string& isa) {
  const std::string previous = cpu::isa_name(cpu::active_isa());
  if (isa == "auto") {
    cpu::set_active_isa(std::nullopt);
  } else {
    const auto level = cpu::parse_isa(isa);
    TORCH_CHECK(level.has_value(), "set_cpu_isa: isa must be \"avx512\", \"avx2\", \"baseline\" or \"auto\", got \"",
                isa, "\"");
    cpu::set_active_isa(level);
  }
  return previous;
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def("_cpu_dispatch(bool calibrate=False) -> str", &stx::ops::cpu_dispatch_op);
  m.def("_set_cpu_isa(str isa) -> str", &stx::ops::set_cpu_isa_op);
}
