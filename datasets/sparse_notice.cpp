// torch prints "Sparse CSR tensor support is in beta state" once per process, when the first sparse
// compressed tensor is made. stx's readers, preprocessing and synthetic data return CSR matrices by
// design, so every stx run would print that notice. libstx takes it once, silently, when it loads:
// only that message is dropped, and only while this one tiny tensor is made; every other warning
// goes to the handler that was active.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <string>

namespace stx::data::detail {
namespace {

class DropSparseBetaNotice final : public c10::WarningHandler {
 public:
  explicit DropSparseBetaNotice(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::Warning& warning) override {
    if (warning.msg().find("tensor support is in beta state") == std::string::npos) next_->process(warning);
  }

 private:
  c10::WarningHandler* next_;
};

bool take_sparse_beta_notice() {
  DropSparseBetaNotice handler(c10::WarningUtils::get_warning_handler());
  c10::WarningUtils::WarningHandlerGuard guard(&handler);
  const auto index = at::TensorOptions().dtype(at::kLong);
  (void)at::sparse_csr_tensor(at::zeros({1}, index), at::zeros({0}, index), at::zeros({0}), {0, 0},
                              at::TensorOptions().dtype(at::kFloat).layout(at::kSparseCsr));
  return true;
}

[[maybe_unused]] const bool kSparseBetaNoticeTaken = take_sparse_beta_notice();

}  // namespace
}  // namespace stx::data::detail
