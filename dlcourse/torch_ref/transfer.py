"""Transfer learning: pretrained VGGs from the local cache, freezing, new heads, feature caching.

Every function works on ``torchvision.models.VGG`` and on :class:`~dlcourse.torch_ref.mini_vgg.MiniVGG`
(same ``features`` / ``avgpool`` / ``classifier`` structure).  Nothing here
downloads: :func:`vgg` loads ImageNet weights from the local torch hub cache and
fails fast, with the command that fetches them, when they are not there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from dlcourse.torch_ref.device import get_device
from dlcourse.validation import check_integer

__all__ = [
    "VGG_ARCHS",
    "WeightsNotFoundError",
    "vgg",
    "cached_weights_path",
    "freeze",
    "unfreeze",
    "replace_classifier",
    "conv_blocks",
    "fine_tuning_param_groups",
    "extract_features",
    "train_linear_probe",
]

VGG_ARCHS = ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are not in the local cache (nothing is downloaded at run time)."""


def _weights_enum(arch: str, weights):
    import torchvision

    enum = torchvision.models.get_model_weights(arch)
    if isinstance(weights, enum):
        return weights
    if isinstance(weights, str) and weights in enum.__members__:
        return enum[weights]
    return None


def cached_weights_path(arch: str = "vgg16", weights="DEFAULT") -> Path:
    """Where torchvision keeps (or would keep) the file of ``weights``:
    ``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``."""
    member = _weights_enum(arch, weights)
    if member is None:
        raise ValueError(f"weights must name a member of {arch}'s weights enum, got {weights!r}")
    filename = os.path.basename(urlparse(member.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def vgg(arch: str = "vgg16", weights=None, *, num_classes: int | None = None) -> nn.Module:
    """A torchvision VGG, randomly initialised or with weights from the local cache or a file.

    Args:
        arch: one of :data:`VGG_ARCHS` ("vgg11" ... "vgg19_bn").
        weights: ``None`` (random initialisation); ``"DEFAULT"`` or another member
            name of the architecture's torchvision weights enum (e.g. "IMAGENET1K_V1"),
            or the enum member itself, loaded from the torch hub cache; or a path to
            a saved state dict.
        num_classes: if given and different from the model's output size, the last
            classifier layer is a fresh ``nn.Linear(4096, num_classes)`` (as
            :func:`replace_classifier` would make it).

    Returns:
        A ``torchvision.models.VGG`` on the CPU.

    Raises:
        ValueError: for an unknown ``arch`` or ``weights``.
        WeightsNotFoundError: (a ``FileNotFoundError``) if the cached file or the path
            does not exist; the message gives the command that downloads the
            weights on a machine with internet access.  No download is attempted.

    PyTorch counterpart: ``torchvision.models.vgg16(weights="DEFAULT")``, minus the download.
    """
    import torchvision

    if arch not in VGG_ARCHS:
        raise ValueError(f"arch must be one of {', '.join(VGG_ARCHS)}, got {arch!r}")
    builder = getattr(torchvision.models, arch)
    member = _weights_enum(arch, weights) if weights is not None else None
    if weights is None:
        model = builder(weights=None)
    else:
        if member is not None:
            path = cached_weights_path(arch, member)
            if not path.is_file():
                raise WeightsNotFoundError(
                    f"{arch} weights {member} are not in the local torch cache ({path}) and this course never "
                    f"downloads at run time. On a machine with internet access run\n"
                    f"    python -c \"import torchvision; torchvision.models.{arch}(weights='{member.name}')\"\n"
                    f"(or: curl -L --create-dirs -o {path} {member.url})\n"
                    f"and copy the file to {path} here (set TORCH_HOME to use another cache directory)."
                )
        elif isinstance(weights, (str, os.PathLike)):
            path = Path(weights)
            if not path.is_file():
                enum = torchvision.models.get_model_weights(arch)
                raise WeightsNotFoundError(
                    f"weights={str(weights)!r} is neither a member of {enum.__name__} "
                    f"({', '.join(enum.__members__)}) nor an existing state-dict file"
                )
        else:
            raise ValueError(f"weights must be None, a weights-enum name such as 'DEFAULT', or a path; got {weights!r}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        out_features = state["classifier.6.weight"].shape[0] if "classifier.6.weight" in state else 1000
        model = builder(weights=None, num_classes=out_features)
        model.load_state_dict(state)
    if num_classes is not None:
        num_classes = check_integer(num_classes, "num_classes", minimum=1)
        head = model.classifier[6]  # torchvision's VGG: classifier = (Linear, ReLU, Dropout) x 2 + Linear
        if head.out_features != num_classes:
            model.classifier[6] = nn.Linear(head.in_features, num_classes)
    return model


def _frozen_bn_pre_hook(module: nn.Module, args) -> None:
    module.training = False  # frozen batch norm: always use (and never update) running statistics


def freeze(module: nn.Module, *, batchnorm_eval: bool = True) -> nn.Module:
    """Freeze every parameter of ``module`` (``requires_grad = False``), in place.

    Batch-norm layers inside are also put in evaluation mode and *kept* there
    (``batchnorm_eval``): ``model.train()`` would otherwise make them normalise
    with batch statistics and overwrite their running statistics, which changes a
    "frozen" feature extractor.  Call :func:`unfreeze` to undo both.

    Args:
        module: a model or a part of one (e.g. ``model.features``).
        batchnorm_eval: keep batch-norm layers in eval mode.

    Returns:
        ``module`` (for chaining).

    PyTorch counterpart: ``module.requires_grad_(False)`` plus ``bn.eval()`` on each batch norm.
    """
    module.requires_grad_(False)
    if batchnorm_eval:
        for m in module.modules():
            if isinstance(m, _BN_TYPES) and not getattr(m, "_dlcourse_frozen", False):
                m.eval()
                m._dlcourse_frozen = True
                m._dlcourse_hook = m.register_forward_pre_hook(_frozen_bn_pre_hook)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: parameters trainable again, batch norms follow ``train()``/``eval()``."""
    module.requires_grad_(True)
    for m in module.modules():
        if getattr(m, "_dlcourse_frozen", False):
            m._dlcourse_hook.remove()
            del m._dlcourse_hook
            m._dlcourse_frozen = False
            m.train(module.training)
    return module


def _last_linear(model: nn.Module):
    for attr in ("classifier", "fc", "head", "heads"):
        head = getattr(model, attr, None)
        if isinstance(head, nn.Linear):
            return model, attr, head
        if isinstance(head, nn.Sequential):
            for i in range(len(head) - 1, -1, -1):
                if isinstance(head[i], nn.Linear):
                    return head, str(i), head[i]
    raise ValueError("model must have a classifier (a Linear, or a Sequential ending in Linear layers) "
                     "named classifier, fc, head or heads")


def replace_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the last ``Linear`` layer of the classifier with a fresh, trainable one.

    Works on VGG / MiniVGG (``classifier[-1]``) and on models with an ``fc`` layer
    (ResNet).  The new layer has the old layer's ``in_features``, device and dtype,
    torch's default initialisation and ``requires_grad=True`` (also after
    :func:`freeze`).

    Args:
        model: modified in place.
        num_classes: outputs of the new layer, >= 1.

    Returns:
        ``model``.

    PyTorch counterpart: ``model.classifier[6] = nn.Linear(4096, num_classes)``.
    """
    num_classes = check_integer(num_classes, "num_classes", minimum=1)
    parent, name, old = _last_linear(model)
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None,
                    device=old.weight.device, dtype=old.weight.dtype)
    setattr(parent, name, new) if not isinstance(parent, nn.Sequential) else parent.__setitem__(int(name), new)
    return model


def conv_blocks(model: nn.Module) -> list[nn.Sequential]:
    """The conv blocks of ``model.features``, each ending with its max-pooling layer.

    The returned ``Sequential`` objects share their layers with the model, so
    ``unfreeze(conv_blocks(model)[-1])`` makes the last block trainable.
    (VGG16: 5 blocks; MiniVGG: 4.)
    """
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ValueError("model must have a `features` Sequential (a VGG-style network)")
    blocks, current = [], []
    for layer in features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(nn.Sequential(*current))
            current = []
    if current:
        blocks.append(nn.Sequential(*current))
    return blocks


def fine_tuning_param_groups(model: nn.Module, lr: float, *, backbone_lr_factor: float = 0.1,
                             head: str = "classifier", weight_decay: float | None = None) -> list[dict]:
    """Optimizer parameter groups: the head at ``lr``, the backbone at ``lr * backbone_lr_factor``.

    Only trainable parameters (``requires_grad``) are included; an empty group is left out.

    Args:
        model: the network.
        lr: learning rate of the head.
        backbone_lr_factor: multiplier for every other parameter (pretrained layers
            should move less than the fresh head), >= 0.
        head: the attribute name of the head ("classifier" for VGG, "fc" for ResNet).
        weight_decay: added to both groups when given.

    Returns:
        A list of dicts to pass to any optimizer: ``Adam(fine_tuning_param_groups(model, 1e-3))``.
    """
    if not hasattr(model, head):
        raise ValueError(f"head must name an attribute of the model, got {head!r}")
    if backbone_lr_factor < 0:
        raise ValueError(f"backbone_lr_factor must be >= 0, got {backbone_lr_factor!r}")
    head_ids = {id(p) for p in getattr(model, head).parameters()}
    head_params = [p for p in model.parameters() if id(p) in head_ids and p.requires_grad]
    backbone = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
    groups = []
    for params, group_lr, name in ((backbone, lr * backbone_lr_factor, "backbone"), (head_params, lr, "head")):
        if params:
            group = {"params": params, "lr": group_lr, "name": name}
            if weight_decay is not None:
                group["weight_decay"] = weight_decay
            groups.append(group)
    return groups


def _backbone_forward(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    x = model.avgpool(model.features(x))
    x = torch.flatten(x, 1)
    if layer == "penultimate":
        x = model.classifier[:-1](x)
    return x


def extract_features(model: nn.Module, data, *, layer: str = "avgpool", batch_size: int = 256,
                     device: str | torch.device | None = None, cache: str | os.PathLike | None = None):
    """Frozen-network features of a whole data set, computed once and optionally cached on disk.

    A linear probe then trains on the (small) feature matrix instead of running the
    conv net every epoch.  The model runs in eval mode under ``torch.no_grad()``.

    Args:
        model: a VGG-style network (``features``, ``avgpool``, ``classifier``).
        data: a tensor/array of images (N, C, H, W), a ``Dataset`` of (image, label)
            pairs, or a ``DataLoader``.
        layer: "avgpool" (flattened pooled conv features) or "penultimate" (the input
            of the last classifier layer).
        batch_size: for tensors and datasets.
        device: default :func:`get_device`.
        cache: a ``.pt`` file: loaded if it exists and was computed from the same
            model weights, data and layer; written otherwise.

    Returns:
        ``(features, labels)``: float32 CPU tensors (N, D) and int64 (N,) (labels
        ``None`` for bare images).
    """
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    if layer not in ("avgpool", "penultimate"):
        raise ValueError(f"layer must be 'avgpool' or 'penultimate', got {layer!r}")
    has_labels = True
    if isinstance(data, DataLoader):
        loader = data
    else:
        if not isinstance(data, Dataset):
            data = TensorDataset(torch.as_tensor(data, dtype=torch.float32))
            has_labels = False
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)

    key = None
    if cache is not None:
        digest = hashlib.sha256(layer.encode())
        for name, value in model.state_dict().items():
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        dataset = getattr(loader, "dataset", None)
        for t in getattr(dataset, "tensors", ()) or ([dataset.X] if hasattr(dataset, "X") else []):
            digest.update(t.cpu().contiguous().numpy().tobytes())
        key = digest.hexdigest()
        path = Path(cache)
        if path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") == key:
                return saved["features"], saved.get("labels")

    device = get_device() if device is None else torch.device(device)
    was_training = model.training
    original_device = next(model.parameters()).device
    model.to(device).eval()
    feats, labels = [], []
    try:
        with torch.no_grad():
            for batch in loader:
                x = batch[0] if isinstance(batch, (list, tuple)) else batch
                feats.append(_backbone_forward(model, x.to(device), layer).float().cpu())
                if has_labels and isinstance(batch, (list, tuple)) and len(batch) > 1:
                    labels.append(batch[1].cpu())
    finally:
        model.to(original_device).train(was_training)
    features = torch.cat(feats)
    label_tensor = torch.cat(labels).long() if labels else None
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"key": key, "features": features, "labels": label_tensor}, cache)
    return features, label_tensor


def train_linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, epochs: int = 300,
                       lr: float = 1e-2, weight_decay: float = 1e-3, standardize: bool = True,
                       seed: int = 0) -> nn.Module:
    """A linear classifier (softmax regression) on fixed features, trained full-batch with Adam.

    Args:
        features: (N, D) float features (e.g. from :func:`extract_features`).
        labels: (N,) int64 classes.
        num_classes: outputs.
        epochs: full-batch Adam steps.
        lr, weight_decay: Adam's (decoupled weight decay, AdamW).
        standardize: standardize the features with their mean/std first (folded into the model).
        seed: seeds the initialisation.

    Returns:
        A module mapping (N, D) features to (N, num_classes) logits (standardization included).
    """
    from dlcourse.torch_ref.optim import AdamW

    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features must be (N, D) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}")
    features = features.float()
    mean = features.mean(0) if standardize else torch.zeros(features.shape[1])
    std = features.std(0).clamp_min(1e-6) if standardize else torch.ones(features.shape[1])
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(features.shape[1], num_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * 0.01)
        linear.bias.zero_()
    z = (features - mean) / std
    optimizer = AdamW(linear.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss_fn(linear(z), labels).backward()
        optimizer.step()

    class _Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)
            self.linear = linear

        def forward(self, x):
            return self.linear((x - self.mean) / self.std)

    return _Probe()
