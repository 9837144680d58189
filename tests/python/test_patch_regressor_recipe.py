"""The patch_regressor recipe (train/patch_regressor_recipe.cpp) on the one training layer."""
from __future__ import annotations

import pytest
import torch

from stx import _C
from stx.modules import TorchvisionNet

train = _C.train


def config(**values):
    return train.Config({"model": "patch_regressor", **values})


def test_the_recipe_is_registered_and_a_config_choice():
    assert "patch_regressor" in train.recipe_names()


def test_it_trains_with_mse_on_the_native_cnn():
    g = torch.Generator().manual_seed(0)
    patches = torch.randint(0, 256, (24, 3, 16, 16), dtype=torch.uint8, generator=g)
    # a target the image determines: mean brightness of each channel
    targets = patches.float().mean((2, 3)) / 64.0
    labels = torch.zeros(24, dtype=torch.long)
    c = config(steps=30, batch_size=8, width=4, hidden_dim=16, dropout=0.0, lr=5e-3)
    model, losses, _ = train.train(patches, targets, labels, c, seed=0, retrieval=False)
    assert len(losses) == 30 and all(l == l for l in losses)
    assert sum(losses[-10:]) < sum(losses[:10])
    pred = train.predict(model, patches)
    assert pred.shape == (24, 3)


def test_backbone_weights_load_into_the_recipe(tmp_path):
    source = TorchvisionNet("resnet18")
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    path = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), path)
    model = train.build_model(config(backbone="resnet18", backbone_weights=str(path), hidden_dim=8), 4)
    state = model.state_dict()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(state["backbone." + key], value, rtol=0, atol=0)
    assert state["head.fc2.weight"].shape == (4, 8)


def test_weight_file_errors_reach_the_config_user(tmp_path):
    path = tmp_path / "mnv2.pt"
    torch.save(TorchvisionNet("mobilenet_v2").state_dict(), path)
    # the stems agree; mobilenet_v2's first block is the first key efficientnet_b0 lacks
    with pytest.raises(ValueError, match=r"mnv2\.pt: 'features\.1\.conv\.0\.0\.weight' is not a tensor of efficientnet_b0"):
        train.build_model(config(backbone="efficientnet_b0", backbone_weights=str(path)), 4)
    with pytest.raises(ValueError, match="backbone_weights"):
        train.build_model(train.Config({"model": "scr2net", "backbone_weights": str(path)}), 4)
    with pytest.raises(ValueError, match="'backbone'.*resnet34"):
        config(backbone="resnet34")


def test_validation_keeps_the_best_model_of_a_fixed_split():
    # The recipe's "best checkpoint by validation loss": config val_fraction holds back a fixed share
    # of the spots; the model returned is the one of the step with the lowest validation MSE.
    g = torch.Generator().manual_seed(1)
    patches = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8, generator=g)
    targets = patches.float().mean((2, 3)) / 64.0 + 0.3 * torch.randn(40, 3, generator=g)
    labels = torch.zeros(40, dtype=torch.long)
    # lr high enough that the validation loss is not monotone, so "best" is not simply "last"
    c = config(steps=40, batch_size=8, width=4, hidden_dim=16, dropout=0.0, lr=3e-2, val_fraction=0.25,
               val_every=4)
    model, losses, val = train.train(patches, targets, labels, c, seed=0, retrieval=False)
    held = val["indices"]
    assert held.dtype == torch.long and held.numel() == 10 and len(set(held.tolist())) == 10
    assert val["steps"] == list(range(4, 41, 4)) and len(val["mse"]) == 10
    best = min(range(10), key=lambda i: val["mse"][i])
    assert val["best_step"] == val["steps"][best]
    # the returned model is the best step's: its MSE on the held-back spots is the recorded best
    mse = torch.nn.functional.mse_loss(train.predict(model, patches[held]), targets[held]).item()
    assert mse == pytest.approx(val["mse"][best], rel=1e-5)
    # the held-back spots take no part in training: the same losses as training on the rest alone
    rest = torch.tensor(sorted(set(range(40)) - set(held.tolist())))
    _, rest_losses, none = train.train(patches[rest], targets[rest], labels[rest],
                                       config(steps=40, batch_size=8, width=4, hidden_dim=16, dropout=0.0, lr=3e-2),
                                       seed=0, retrieval=False)
    assert rest_losses == losses and none["steps"] == [] and none["indices"].numel() == 0
    # the split is fixed by the seed, not by the steps or the batch size
    _, _, other = train.train(patches, targets, labels, config(steps=5, batch_size=4, width=4, hidden_dim=16,
                                                                  val_fraction=0.25, val_every=50),
                              seed=0, retrieval=False)
    assert torch.equal(other["indices"], held) and other["steps"] == [5]


def test_a_validation_share_that_leaves_too_few_spots_is_an_error():
    patches = torch.zeros(3, 3, 16, 16, dtype=torch.uint8)
    with pytest.raises(ValueError, match="val_fraction.*leaving 1 to train on"):
        train.train(patches, torch.zeros(3, 2), torch.zeros(3, dtype=torch.long),
                    config(steps=2, width=4, val_fraction=0.5), seed=0, retrieval=False)
    with pytest.raises(ValueError, match="val_fraction"):
        config(val_fraction=0.95)
