"""Device-agnostic PyTorch references for the torch assignments (A4, A5) and lectures L05-L11.

* device and seeding: :func:`get_device`, :func:`seed_everything`, :func:`seed_worker`
  (a ``DataLoader`` ``worker_init_fn``), :func:`make_generator`;
* modules from tensor ops: :class:`BatchNorm1d`, :class:`Dropout`;
* optimizers from tensor ops: :class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adam`, :class:`AdamW`;
* training: :func:`fit`, :func:`evaluate`, :class:`History`;
* transfer learning: :func:`vgg`, :func:`freeze`, :func:`unfreeze`, :func:`replace_classifier`,
  :func:`fine_tuning_param_groups`, :func:`extract_features`, :func:`mini_vgg`.
* babysitting and hardware (L09, L10): :func:`lr_range_test`, :func:`suggest_lr`, :class:`SlowDataset`,
  :func:`loader_throughput`; the DistributedDataParallel demo is the module ``dlcourse.torch_ref.ddp_demo``.
"""

from dlcourse.torch_ref.device import get_device, make_generator, seed_everything, seed_worker, worker_init_fn
from dlcourse.torch_ref.modules import BatchNorm1d, Dropout
from dlcourse.torch_ref.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from dlcourse.torch_ref.training import History, accuracy, evaluate, fit
from dlcourse.torch_ref.transfer import (
    VGG_ARCHS,
    WeightsNotFoundError,
    cached_weights_path,
    conv_blocks,
    extract_features,
    fine_tuning_param_groups,
    freeze,
    replace_classifier,
    train_linear_probe,
    unfreeze,
    vgg,
)
from dlcourse.torch_ref.mini_vgg import MiniVGG, mini_vgg
from dlcourse.torch_ref.lr_finder import lr_range_test, suggest_lr
from dlcourse.torch_ref.dataloading import SlowDataset, loader_throughput

__all__ = [
    "get_device", "seed_everything", "seed_worker", "worker_init_fn", "make_generator",
    "BatchNorm1d", "Dropout",
    "SGD", "Adagrad", "RMSprop", "Adam", "AdamW",
    "History", "fit", "evaluate", "accuracy",
    "VGG_ARCHS", "WeightsNotFoundError", "vgg", "cached_weights_path", "freeze", "unfreeze",
    "replace_classifier", "conv_blocks", "fine_tuning_param_groups", "extract_features", "train_linear_probe",
    "MiniVGG", "mini_vgg",
]
__all__ += ["lr_range_test", "suggest_lr"]
__all__ += ["SlowDataset", "loader_throughput"]
