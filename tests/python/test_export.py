"""torch.export and AOTInductor deployment of stx models (stx.export, examples/aoti_run).

The Python mirrors must reproduce the C++ modules' forward; the exported programs must match eager
Python, also at other batch and spot counts; the AOTInductor package must give the same numbers when
run from a C++-only program that links stx::stx, and from Python.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import stx
from stx import export as sx
from stx.modules import DenseExpressionNet, SCR2Net

REPO_ROOT = Path(__file__).resolve().parents[2]


def settle_batchnorm(net: torch.nn.Module, size: int = 32) -> torch.nn.Module:
    """A few training-mode passes so the BatchNorm running statistics are not their initial 0/1."""
    torch.manual_seed(1)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 3, size, size) * 2 + 0.5)
    net.eval()  # the C++ module's eval() returns None
    return net


def make_scr2net() -> torch.nn.Module:
    torch.manual_seed(0)
    return settle_batchnorm(SCR2Net(num_genes=6, small_cnn_width=4, hidden_dim=16, projection_dim=8))


def make_dense(nonnegative: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    return settle_batchnorm(DenseExpressionNet(num_genes=5, width=4, decoder_channels=6, nonnegative=nonnegative))


def spots(batch: int, n: int, size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.cat([torch.randint(0, batch, (n, 1), generator=g).float(),
                         torch.rand(n, 2, generator=g) * (size - 1)], dim=1)
    return centers, torch.rand(n, generator=g) * 4 + 2


def test_scr2net_mirror_matches_the_cpp_module():
    net = make_scr2net()
    mirror = sx.SCR2NetForward(net)
    images = torch.rand(3, 3, 32, 40)
    with torch.no_grad():
        for ours, theirs in zip(mirror(images), net(images)):
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    # a copy: training the C++ module further does not change the exported weights
    assert mirror.regressor.fc2.weight.data_ptr() != dict(net.named_parameters())["regressor.fc2.weight"].data_ptr()


@pytest.mark.parametrize("nonnegative", [False, True])
def test_dense_mirror_matches_the_cpp_module_and_spot_pool(nonnegative):
    net = make_dense(nonnegative)
    model = sx.DenseSpotModel(net, nonnegative=nonnegative, reduce="mean")
    images = torch.rand(2, 3, 24, 36)
    centers, radii = spots(2, 7, 24)
    with torch.no_grad():
        maps = net(images)
        torch.testing.assert_close(model.dense(images), maps, rtol=1e-5, atol=1e-5)
        expected = torch.ops.stx.spot_pool(maps, centers, radii, "disk", "mean", 0.5)[0]
        torch.testing.assert_close(model(images, centers, radii), expected, rtol=1e-5, atol=1e-5)


def test_export_holds_the_stx_op_and_generalises_over_sizes():
    dense_model = sx.DenseSpotModel(make_dense())
    centers, radii = spots(2, 5, 24)
    program = sx.export(dense_model, (torch.rand(2, 3, 24, 24), centers, radii))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert "stx.spot_pool.default" in targets, targets
    # another batch size and spot count than the example
    images, (centers, radii) = torch.rand(3, 3, 24, 24), spots(3, 11, 24, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(images, centers, radii), dense_model(images, centers, radii))
    scr = sx.SCR2NetForward(make_scr2net())
    program = sx.export(scr, (torch.rand(2, 3, 32, 32),))
    images = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        for ours, theirs in zip(program.module()(images), scr(images)):
            torch.testing.assert_close(ours, theirs)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # the test's own file
def test_bad_models_are_named(tmp_path):
    with pytest.raises(ValueError, match="DenseSpotModel: expected a SmallCNN"):
        sx.DenseSpotModel(make_scr2net())

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x)

    path = tmp_path / "tiny.pt"
    torch.jit.script(Tiny()).save(str(path))
    with pytest.raises(ValueError, match="TorchScript backbone"):
        sx.SCR2NetForward(SCR2Net(num_genes=3, backbone=str(path), hidden_dim=8))


class Deployed(torch.nn.Module):
    """Both models in one package (one AOTInductor compile): SCR2Net on patches, the dense model
    read out at spots."""

    def __init__(self) -> None:
        super().__init__()
        self.scr2net = sx.SCR2NetForward(make_scr2net())
        self.dense = sx.DenseSpotModel(make_dense())

    def forward(self, patches, images, centers, radii):
        features, prediction = self.scr2net(patches)
        return features, prediction, self.dense(images, centers, radii)


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def aoti_runner(tmp_path_factory) -> Path:
    """examples/aoti_run built against the stx package with find_package(stx)."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    work = tmp_path_factory.mktemp("aoti_run")
    prefix = Path(stx.cmake_prefix_path())
    if not (prefix / "lib" / "cmake" / "stx" / "stxConfig.cmake").is_file():
        # a raw build tree (STX_BUILD_DIR): install it into a scratch prefix first
        build_dir = prefix.parent
        prefix = work / "prefix"
        _run(["cmake", "--install", str(build_dir), "--prefix", str(prefix)])
    configure = ["cmake", "-S", str(REPO_ROOT / "examples" / "aoti_run"), "-B", str(work / "build"),
                 f"-DCMAKE_PREFIX_PATH={prefix};{torch.utils.cmake_prefix_path}", "-DCMAKE_BUILD_TYPE=Release"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    if shutil.which("ccache"):
        configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
    _run(configure)
    _run(["cmake", "--build", str(work / "build")])
    return work / "build" / "stx_aoti_run"


@pytest.mark.slow
def test_aoti_package_runs_from_cpp_like_eager_python(tmp_path, aoti_runner):
    model = Deployed().eval()
    centers, radii = spots(2, 6, 24)
    example = (torch.rand(2, 3, 32, 32), torch.rand(2, 3, 24, 24), centers, radii)
    with torch.no_grad():
        program = torch.export.export(model, example)
    package = sx.package(program, tmp_path / "deployed.pt2")

    torch.manual_seed(7)
    inputs = [torch.rand(2, 3, 32, 32), torch.rand(2, 3, 24, 24), *spots(2, 6, 24, seed=3)]
    with torch.no_grad():
        eager = model(*inputs)
    torch.save(inputs, tmp_path / "inputs.pt")
    proc = _run([str(aoti_runner), package, str(tmp_path / "inputs.pt"), str(tmp_path / "outputs.pt")],
                env={**os.environ, "PYTHONPATH": ""})
    assert "3 output(s)" in proc.stdout
    from_cpp = torch.load(tmp_path / "outputs.pt")
    assert len(from_cpp) == 3
    for ours, theirs in zip(from_cpp, eager):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    # the same package loaded from Python
    from_python = torch._inductor.aoti_load_package(package)(*inputs)
    for ours, theirs in zip(from_python, eager):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    # a bad inputs file is a clear error, not a crash
    (tmp_path / "bad.pt").write_bytes(b"not a tensor file")
    proc = subprocess.run([str(aoti_runner), package, str(tmp_path / "bad.pt"), str(tmp_path / "o.pt")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "stx_aoti_run:" in proc.stderr
