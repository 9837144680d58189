// PixNet's dense model as a recipe (docs/pixnet.md): DenseExpressionNet (SmallCNN encoder of config
// width, feature-pyramid decoder of config decoder_channels) with a softplus output, so the map is a
// non-negative density of counts that sums to a region's counts at any region size. Trained by the
// tile loop (train_tiles) with PixNet's MSE + pcc_weight (1 - PCC) on log1p of the region sums.
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <stx/modules/dense_head.h>
#include <stx/train/recipe.h>

namespace stx::train {
namespace {

class PixNetModel final : public DenseTrainableModel {
 public:
  PixNetModel(const Config& c, int64_t num_genes)
      : net_(num_genes, c.integer("width"), c.integer("decoder_channels"), /*nonnegative=*/true) {}

  torch::nn::Module& module() override { return *net_; }

  void start_from_mean(const at::Tensor& density) override {
    torch::NoGradGuard no_grad;  // softplus(bias) = the mean density: the map starts at the average
    auto bias = net_->named_parameters()["head.out.bias"];
    const auto d = density.to(bias.device(), bias.scalar_type()).clamp_min(1e-6);
    bias.copy_(at::log(at::expm1(d)));
  }

  at::Tensor dense(const at::Tensor& images) override { return net_->forward(images); }

 private:
  stx::modules::DenseExpressionNet net_;
};

}  // namespace

STX_TRAIN_RECIPE(pixnet) {
  Recipe r{"pixnet",
           "PixNet-style dense model: per-pixel count density [G, H, W], trained on image tiles through spot_pool "
           "(run with the pixnet command)",
           [](const Config& c, int64_t genes) { return std::make_unique<PixNetModel>(c, genes); }};
  r.dense = true;
  return r;
}

}  // namespace stx::train
