"""vgg / freeze / replace_classifier / param groups / feature extraction, on torchvision VGG and MiniVGG."""

import socket

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from dlcourse.torch_ref import (
    MiniVGG,
    WeightsNotFoundError,
    cached_weights_path,
    conv_blocks,
    extract_features,
    fine_tuning_param_groups,
    freeze,
    mini_vgg,
    replace_classifier,
    unfreeze,
    vgg,
)
from tests.torch_ref._helpers import DEVICES


@pytest.fixture(scope="module")
def vgg11_bn():
    torch.manual_seed(0)
    return vgg("vgg11_bn", weights=None)  # random init, ~130 M parameters, built once


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_vgg_default_weights_fail_fast_with_the_download_command(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert cached_weights_path("vgg16", "DEFAULT") == expected
    with pytest.raises(WeightsNotFoundError) as err:
        vgg("vgg16", weights="DEFAULT")
    message = str(err.value)
    assert str(expected) in message
    assert "torchvision.models.vgg16(weights='IMAGENET1K_V1')" in message
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert isinstance(err.value, FileNotFoundError)


def test_vgg_loads_from_the_cache_and_from_a_path(tmp_path, monkeypatch, no_network):
    import torchvision

    torch.manual_seed(1)
    source = torchvision.models.vgg11(weights=None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = cached_weights_path("vgg11", "DEFAULT")
    cached.parent.mkdir(parents=True)
    torch.save(source.state_dict(), cached)
    for weights in ("IMAGENET1K_V1", str(cached)):  # an enum name via the cache, and a path (vgg11: ~0.5 GB each)
        model = vgg("vgg11", weights=weights)
        for key, value in source.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), f"weights={weights!r}: {key} not loaded"
    with pytest.raises(WeightsNotFoundError, match="neither"):
        vgg("vgg11", weights=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="arch"):
        vgg("vgg17")


def test_vgg_without_weights_and_new_head(vgg11_bn):
    assert isinstance(vgg11_bn.classifier[6], nn.Linear) and vgg11_bn.classifier[6].out_features == 1000


def _check_freeze_contract(model, x):
    replace_classifier(freeze(model), 5)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["classifier.6.weight", "classifier.6.bias"], trainable
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns, "the test needs a model with batch norm"
    stats = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
    model.train()  # must NOT switch the frozen batch norms to batch statistics
    out = model(x)
    assert out.shape == (len(x), 5)
    for m, (mean, var) in zip(bns, stats):
        assert not m.training
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var), "frozen BN stats changed"
    assert model.classifier[1].training, "non-BN layers still follow model.train() (dropout on)"
    out.sum().backward()
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("classifier.6"))
    unfreeze(model)
    model.train()
    model(x)
    assert all(m.training for m in bns) and all(p.requires_grad for p in model.parameters())
    assert not torch.equal(bns[0].running_mean, stats[0][0]), "unfrozen BN updates its statistics again"


def test_freeze_and_replace_classifier_on_torchvision_vgg(vgg11_bn):
    _check_freeze_contract(vgg11_bn, torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize("device", DEVICES)
def test_freeze_and_replace_classifier_on_mini_vgg(device):
    torch.manual_seed(0)
    model = mini_vgg(pretrained=True).to(device)
    _check_freeze_contract(model, torch.randn(4, 3, 32, 32, device=device))
    assert model.classifier[6].weight.device.type == torch.device(device).type


def test_mini_vgg_has_torchvision_vgg_structure_and_packaged_weights(vgg11_bn):
    model = mini_vgg(pretrained=True)
    for attr in ("features", "avgpool", "classifier"):
        assert type(getattr(model, attr)) is type(getattr(vgg11_bn, attr))
    assert [type(m) for m in model.classifier] == [type(m) for m in vgg11_bn.classifier]
    assert len(conv_blocks(model)) == 4 and len(conv_blocks(vgg11_bn)) == 5
    fresh = MiniVGG()
    assert not torch.equal(fresh.features[0].weight, model.features[0].weight), "pretrained weights were loaded"
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())
    assert mini_vgg(pretrained=False, num_classes=7).classifier[6].out_features == 7
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params < 750_000, f"mini_vgg should stay small (weights in the package), has {n_params}"


def test_unfreezing_the_last_block_and_param_groups(vgg11_bn):
    model = mini_vgg(pretrained=False)
    freeze(model)
    replace_classifier(model, 3)
    unfreeze(conv_blocks(model)[-1])
    trainable = {n.split(".")[0] + "." + n.split(".")[1] for n, p in model.named_parameters() if p.requires_grad}
    last_block_layers = {f"features.{i}" for i in range(len(model.features) - 7, len(model.features))}
    assert trainable - {"classifier.6"} <= last_block_layers and len(trainable) > 1
    groups = fine_tuning_param_groups(model, 1e-3, backbone_lr_factor=0.1)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[0]["lr"] == pytest.approx(1e-4) and groups[1]["lr"] == 1e-3
    head = {id(p) for p in model.classifier[6].parameters()}
    assert {id(p) for p in groups[1]["params"]} == head
    assert all(p.requires_grad for g in groups for p in g["params"])
    opt = torch.optim.SGD(groups, lr=1.0)
    assert [g["lr"] for g in opt.param_groups] == [pytest.approx(1e-4), 1e-3]
    groups16 = fine_tuning_param_groups(unfreeze(vgg11_bn), 0.01)
    assert sum(p.numel() for g in groups16 for p in g["params"]) == sum(p.numel() for p in vgg11_bn.parameters())


def test_extract_features_caches_and_matches_the_network(tmp_path):
    torch.manual_seed(0)
    model = mini_vgg(pretrained=True)
    x = torch.randn(20, 3, 32, 32)
    y = torch.arange(20) % 3
    from torch.utils.data import TensorDataset

    feats, labels = extract_features(model, TensorDataset(x, y), batch_size=8, device="cpu",
                                     cache=tmp_path / "f.pt")
    model.eval()
    with torch.no_grad():
        expected = torch.flatten(model.avgpool(model.features(x)), 1)
    assert_close(feats, expected, msg=lambda m: f"cached features = features->avgpool->flatten: {m}")
    assert torch.equal(labels, y)
    # second call reads the cache: prove it by poisoning the model's forward
    model.features.forward = lambda *_: (_ for _ in ()).throw(AssertionError("recomputed"))
    again, _ = extract_features(model, TensorDataset(x, y), device="cpu", cache=tmp_path / "f.pt")
    assert torch.equal(again, feats)
    pen, none = extract_features(MiniVGG(), x, layer="penultimate", device="cpu")
    assert pen.shape == (20, 128) and none is None
