// stx._C.modules: the C++ nn modules as torch.nn.Module subclasses in Python (torch::python::bind_module).
#include <pybind11/functional.h>
#include <torch/python.h>

#include <stx/modules/backbones.h>
#include <stx/modules/dense_head.h>
#include <stx/modules/nucleus_net.h>
#include <stx/modules/patch_regressor.h>
#include <stx/modules/scr2net.h>
#include <stx/modules/scr2net_training.h>
#include <stx/modules/spot_labels.h>
#include <stx/modules/torchvision_nets.h>
#include <stx/modules/weights_file.h>

#include "torch_ext/csrc/bindings.h"

namespace py = pybind11;
using namespace stx::modules;

STX_PYTHON_BINDING(modules) {
  auto mm = m.def_submodule("modules", "C++ torch::nn modules of stx");

  torch::python::bind_module<SmallCNNImpl>(mm, "SmallCNN")
      .def(py::init([](int64_t in_channels, int64_t width, int64_t stages) {
             return std::make_shared<SmallCNNImpl>(SmallCNNOptions{in_channels, width, stages});
           }),
           py::arg("in_channels") = 3, py::arg("width") = 32, py::arg("stages") = 4)
      .def("forward_pyramid", &SmallCNNImpl::forward_pyramid)
      .def_property_readonly("out_dim", &SmallCNNImpl::out_dim);

  torch::python::bind_module<SCR2NetImpl>(mm, "SCR2Net")
      .def(py::init([](int64_t num_genes, const std::string& backbone, int64_t small_cnn_width, int64_t hidden_dim,
                       int64_t projection_dim, double dropout) {
             return std::make_shared<SCR2NetImpl>(
                 SCR2NetOptions{num_genes, backbone, small_cnn_width, hidden_dim, projection_dim, dropout});
           }),
           py::arg("num_genes"), py::arg("backbone") = "small_cnn", py::arg("small_cnn_width") = 32,
           py::arg("hidden_dim") = 256, py::arg("projection_dim") = 128, py::arg("dropout") = 0.1)
      .def("image_embedding", &SCR2NetImpl::image_embedding)
      .def("gene_embedding", &SCR2NetImpl::gene_embedding)
      .def(
          "training_loss",
          [](SCR2NetImpl& self, const at::Tensor& images, const at::Tensor& targets, const at::Tensor& bank_values,
             const at::Tensor& bank_labels, bool retrieval, int64_t k, int64_t num_types, int64_t num_labels,
             const std::string& weighting, double soft_weight, double soft_threshold, double contrastive_weight,
             double temperature) {
            SCR2NetLossOptions o{retrieval,   k,              num_types,          num_labels, weighting,
                                 soft_weight, soft_threshold, contrastive_weight, temperature};
            return scr2net_training_loss(self, images, targets, bank_values, bank_labels, o);
          },
          py::arg("images"), py::arg("targets"), py::arg("bank_values"), py::arg("bank_labels"),
          py::arg("retrieval") = true, py::arg("k") = 16, py::arg("num_types") = 3, py::arg("num_labels") = 0,
          py::arg("weighting") = "mean", py::arg("soft_weight") = 0.5, py::arg("soft_threshold") = 0.1,
          py::arg("contrastive_weight") = 0.1, py::arg("temperature") = 0.5,
          "The SCR2Net training objective (see stx/modules/scr2net_training.h): returns (loss, prediction)")
      .def(
          "training_loss_with_retrieval",
          [](SCR2NetImpl& self, const at::Tensor& images, const at::Tensor& targets, const SoftLabelFn& retrieve,
             double soft_weight, double soft_threshold, double contrastive_weight, double temperature) {
            SCR2NetLossOptions o;
            o.soft_weight = soft_weight, o.soft_threshold = soft_threshold;
            o.contrastive_weight = contrastive_weight, o.temperature = temperature;
            return scr2net_training_loss(self, images, targets, retrieve, o);
          },
          py::arg("images"), py::arg("targets"), py::arg("retrieve"), py::arg("soft_weight") = 0.5,
          py::arg("soft_threshold") = 0.1, py::arg("contrastive_weight") = 0.1, py::arg("temperature") = 0.5,
          "The SCR2Net objective with the retrieval step supplied as retrieve(image_emb) -> (soft, confidence), "
          "e.g. stx.distributed.sharded_soft_labels over a bank sharded across ranks")
      .def_property_readonly("feature_dim", &SCR2NetImpl::feature_dim);

  mm.def("spot_labels", &spot_labels, py::arg("targets"), py::arg("num_labels") = 8, py::arg("components") = 16,
         py::arg("seed") = 0, "k-means labels of the expression PCA (the majority filter's spot types)");

  torch::python::bind_module<PatchRegressorImpl>(mm, "PatchRegressor")
      .def(py::init([](int64_t num_genes, const std::string& backbone, int64_t small_cnn_width, int64_t hidden_dim,
                       double dropout, const std::string& backbone_weights) {
             return std::make_shared<PatchRegressorImpl>(
                 PatchRegressorOptions{num_genes, backbone, small_cnn_width, hidden_dim, dropout, backbone_weights});
           }),
           py::arg("num_genes"), py::arg("backbone") = "small_cnn", py::arg("small_cnn_width") = 32,
           py::arg("hidden_dim") = 512, py::arg("dropout") = 0.5, py::arg("backbone_weights") = "")
      .def_property_readonly("backbone_parameters", &PatchRegressorImpl::backbone_parameters)
      .def_property_readonly("head_parameters", &PatchRegressorImpl::head_parameters);

  // The native torchvision architectures; their state_dict keys are torchvision's (classifier excluded).
  torch::python::bind_module<TorchvisionNetImpl>(mm, "TorchvisionNet")
      .def(py::init([](const std::string& arch, const std::string& weights) {
             return make_torchvision_net(arch, weights);
           }),
           py::arg("arch"), py::arg("weights") = "")
      .def_property_readonly("out_dim", &TorchvisionNetImpl::out_dim)
      .def_property_readonly("arch", &TorchvisionNetImpl::arch)
      .def_property_readonly("classifier_prefix", &TorchvisionNetImpl::classifier_prefix);
  mm.def("torchvision_net_names", &torchvision_net_names);
  mm.def("read_state_dict_file", &read_state_dict_file, py::arg("path"),
         "A torch.save'd state_dict read weights-only by C++: [(name, tensor)] in file order");

  torch::python::bind_module<DenseExpressionNetImpl>(mm, "DenseExpressionNet")
      .def(py::init<int64_t, int64_t, int64_t, bool>(), py::arg("num_genes"), py::arg("width") = 32,
           py::arg("decoder_channels") = 64, py::arg("nonnegative") = false);

  const NucleusNetOptions nucleus_defaults;
  torch::python::bind_module<NucleusNetImpl>(mm, "NucleusNet")
      .def(py::init([](int64_t num_types, int64_t width, int64_t stages, int64_t decoder_channels) {
             return std::make_shared<NucleusNetImpl>(NucleusNetOptions{num_types, width, stages, decoder_channels});
           }),
           py::arg("num_types"), py::arg("width") = nucleus_defaults.width,
           py::arg("stages") = nucleus_defaults.stages, py::arg("decoder_channels") = nucleus_defaults.decoder_channels);
  mm.def(
      "nucleus_loss",
      [](const at::Tensor& nuclear_logits, const at::Tensor& hv, const at::Tensor& type_logits,
         const at::Tensor& instances, const at::Tensor& hv_target, const at::Tensor& types) {
        return nucleus_loss(nuclear_logits, hv, type_logits, instances, hv_target, types);
      },
      py::arg("nuclear_logits"), py::arg("hv"), py::arg("type_logits"), py::arg("instances"), py::arg("hv_target"),
      py::arg("types"), "HoVer-Net's objective with its default weights (stx/modules/nucleus_net.h)");
}
