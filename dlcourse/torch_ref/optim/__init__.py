"""SGD, Adagrad, RMSprop, Adam and AdamW written from tensor operations.

Each optimizer subclasses ``torch.optim.Optimizer`` (so ``param_groups``, ``state``,
``zero_grad``, ``state_dict``/``load_state_dict``, hooks and every
``torch.optim.lr_scheduler`` work). Signatures, defaults and ``state`` keys are torch's,
including ``foreach``, less the other implementation flags (``fused``, ``capturable``,
``differentiable``).

Structure (as in ``torch.optim``): the math of each algorithm is written once per code path,
as two pure functions in the algorithm's module, which update the lists of tensors they are
given in place and know nothing about optimizers:

* ``_single_tensor_<algo>`` (the readable reference): a loop over the parameters, a handful
  of tensor ops each, in the same order of operations as torch's single-tensor path, so
  trajectories agree with ``torch.optim`` to rounding;
* ``_multi_tensor_<algo>``: the same math with ``torch._foreach_*`` ops, each running once
  over every parameter of one device and dtype (one multi-tensor kernel per op on CUDA instead
  of ~7 launches per parameter). Quantities that differ between parameters (bias corrections,
  Adagrad's decayed learning rate; each parameter counts its own steps) are lists of scalars.

The classes only gather a param group's parameters, gradients and state into lists
(``_update_group``) and call one of the two, chosen by the group's ``foreach``: ``True`` /
``False`` force it, ``None`` (the default) follows torch's rule, multi-tensor exactly when
every parameter with a gradient is a plain tensor on CUDA.

State buffers are created with ``zeros_like`` on the parameter's device and dtype; the step
counter ``state["step"]`` is a 0-d float32 CPU tensor, as in torch, so ``state_dict``s load
across the two implementations (and across the two code paths).

Modules: :mod:`.sgd`, :mod:`.adagrad`, :mod:`.rmsprop`, :mod:`.adam` (Adam and AdamW) and
:mod:`._base` (the shared plumbing).
"""

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]
