// The C++ modules train from a C++-only program: forward shapes, gradients reach every
// parameter, a few SGD steps lower a loss, and bad options are reported.
#include <gtest/gtest.h>

#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>

#include <stx/modules/dense_head.h>
#include <stx/modules/patch_regressor.h>
#include <stx/modules/scr2net.h>

using namespace stx::modules;

TEST(Modules, SCR2NetShapesAndUnitEmbeddings) {
  torch::manual_seed(0);
  SCR2Net net(SCR2NetOptions{12, "small_cnn", 8, 32, 16, 0.1});
  auto [features, pred] = net->forward(torch::randn({3, 3, 32, 32}));
  EXPECT_EQ(pred.sizes(), (std::vector<int64_t>{3, 12}));
  EXPECT_EQ(features.size(1), net->feature_dim());
  auto image = net->image_embedding(features);
  auto genes = net->gene_embedding(torch::randn({5, 12}));
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_TRUE(torch::allclose(image.norm(2, 1), torch::ones({3}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(genes.norm(2, 1), torch::ones({5}), 1e-5, 1e-5));
}

TEST(Modules, SCR2NetLearnsAFixedTarget) {
  torch::manual_seed(0);
  SCR2Net net(SCR2NetOptions{4, "small_cnn", 8, 32, 16, 0.0});
  auto images = torch::randn({8, 3, 16, 16});
  auto target = torch::randn({8, 4});
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    auto loss = torch::nn::functional::mse_loss(std::get<1>(net->forward(images)), target);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first);
}

TEST(Modules, DenseNetMapMatchesInputResolutionAndBackprops) {
  DenseExpressionNet net(5, 8, 16, /*nonnegative=*/true);
  auto maps = net->forward(torch::randn({2, 3, 40, 24}));
  EXPECT_EQ(maps.sizes(), (std::vector<int64_t>{2, 5, 40, 24}));
  EXPECT_GE(maps.min().item<float>(), 0.0f);
  maps.sum().backward();
  for (const auto& p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
  }
}

TEST(Modules, PatchRegressorOutput) {
  PatchRegressor net(PatchRegressorOptions{7, "small_cnn", 8, 16, 0.5, ""});
  EXPECT_EQ(net->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 7}));
}

TEST(Modules, BadOptionsAndInputsAreReported) {
  EXPECT_THROW(SCR2Net(SCR2NetOptions{0}), c10::Error);
  EXPECT_THROW(SCR2Net(SCR2NetOptions{3, "/no/such/backbone.pt"}), c10::Error);
  SCR2Net net(SCR2NetOptions{3, "small_cnn", 8, 16, 8, 0.0});
  EXPECT_THROW(net->forward(torch::randn({3, 32, 32})), c10::Error);
  EXPECT_THROW(net->gene_embedding(torch::randn({2, 4})), c10::Error);
}
