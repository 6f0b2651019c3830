"""mini_vgg: a small VGG-style network whose pretrained weights ship with the package.

Same structure as ``torchvision.models.VGG`` — ``features`` (3x3 conv + batch norm +
ReLU blocks separated by 2x2 max-pooling), ``avgpool`` (adaptive average pooling)
and ``classifier`` (Linear-ReLU-Dropout-Linear-ReLU-Dropout-Linear) — so that
:func:`~dlcourse.torch_ref.transfer.freeze`, :func:`~dlcourse.torch_ref.transfer.replace_classifier`
and :func:`~dlcourse.torch_ref.transfer.conv_blocks` work on it exactly as on
``torchvision.models.vgg16``, but small enough (about 0.6 M parameters, 2.5 MB) to
train on a laptop CPU in minutes and to run in a test.

The weights (``weights/mini_vgg.pt``) were pretrained on the *source task*
``dlcourse.data.make_source_task`` (40 classes: the 10 shapes of ``make_shapes`` and
30 invented characters of ``make_glyphs``, in random colours, positions, sizes and
rotations with clutter and noise; 32x32 colour images) by ``scripts/train_mini_vgg.py``;
inputs are expected normalized per channel with the training statistics of the task
at hand.  The measured transfer to a different task (cluttered handwritten digits,
``dlcourse.data.load_cluttered_digits``) is in ``dlcourse.torch_ref.transfer_experiment``
and the README.
"""

from __future__ import annotations

from importlib import resources

import torch
from torch import nn

from dlcourse.validation import check_integer

__all__ = ["MiniVGG", "mini_vgg", "MINI_VGG_CONFIG", "MINI_VGG_WEIGHTS", "SOURCE_NUM_CLASSES"]

MINI_VGG_CONFIG = (32, "M", 64, "M", 128, 128, "M", 128, 128, "M")
SOURCE_NUM_CLASSES = 40  # the classes of the source task: 10 shapes + 30 glyphs
MINI_VGG_WEIGHTS = "mini_vgg.pt"


def _make_features(config, in_channels: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class MiniVGG(nn.Module):
    """A VGG-style network for 32x32 colour images.

    Args:
        num_classes: outputs of the last layer.
        hidden: width of the two hidden classifier layers.
        dropout: drop probability in the classifier.
        config: channels per conv layer, "M" for max-pooling (like torchvision's ``cfgs``).

    Shape:
        input (N, 3, H, W) with H, W >= 16 (32 for the pretrained weights); output (N, num_classes).

    PyTorch counterpart: ``torchvision.models.VGG`` (same attribute names and layer order).
    """

    def __init__(self, num_classes: int = SOURCE_NUM_CLASSES, *, hidden: int = 128, dropout: float = 0.5,
                 config=MINI_VGG_CONFIG) -> None:
        super().__init__()
        num_classes = check_integer(num_classes, "num_classes", minimum=1)
        self.features = _make_features(config)
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        last = [v for v in config if v != "M"][-1]
        self.classifier = nn.Sequential(
            nn.Linear(last * 2 * 2, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():  # torchvision's VGG initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def weights_path():
    """Where the packaged pretrained weights live (a ``pathlib.Path``-like object)."""
    return resources.files("dlcourse.torch_ref").joinpath("weights", MINI_VGG_WEIGHTS)


def mini_vgg(pretrained: bool = True, num_classes: int | None = None) -> MiniVGG:
    """A :class:`MiniVGG`, with the packaged source-task weights when ``pretrained``.

    Args:
        pretrained: load ``weights/mini_vgg.pt`` (pretrained on the 40-class source task).
        num_classes: if given and different from the source task's 40 classes, the last
            classifier layer is replaced by a fresh ``Linear(hidden, num_classes)``
            (as ``replace_classifier`` would make it).

    Raises:
        FileNotFoundError: if the weights file is missing, saying how to recreate it.

    PyTorch counterpart: ``torchvision.models.vgg11_bn(weights=...)``, in miniature.
    """
    model = MiniVGG(SOURCE_NUM_CLASSES)
    if pretrained:
        path = weights_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"the mini_vgg weights are missing ({path}); recreate them (offline, a few minutes on a CPU) "
                "with: python scripts/train_mini_vgg.py"
            )
        with path.open("rb") as f:
            state = torch.load(f, map_location="cpu", weights_only=True)
        source_classes = state["classifier.6.weight"].shape[0]
        if source_classes != SOURCE_NUM_CLASSES:  # weights of another source task: take the head's size from them
            model = MiniVGG(source_classes)
        model.load_state_dict(state)
    if num_classes is not None and num_classes != model.classifier[6].out_features:
        num_classes = check_integer(num_classes, "num_classes", minimum=1)
        model.classifier[6] = nn.Linear(model.classifier[6].in_features, num_classes)
    return model
