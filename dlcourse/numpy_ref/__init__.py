"""Reference implementations in plain float64 numpy.

Argument checks come from :mod:`dlcourse.validation` (shared with the rest of the
package) and array arguments are annotated with its ``Array`` alias (float64 arrays;
array-likes are converted).

These are the instructor's versions of what students write in the numpy
assignments, and the ground truth the grading compares against.  Each
function documents its math, its shapes, and the PyTorch function it matches.

Submodules:
    functional: activations (sigmoid, tanh, relu, leaky_relu, elu) with their
        derivatives, softmax and log_softmax.
    losses: losses returning ``(loss, grad)`` (mse, binary cross-entropy,
        soft margin, cross-entropy).
    layers: forward/backward pairs (affine, activation layers, batch norm
        with staged and closed-form backward, inverted dropout), each forward
        returning a typed ``NamedTuple`` cache; batch norm and dropout live in
        the submodules ``batchnorm`` and ``dropout``, re-exported by ``layers``.
    init: weight initializers (Xavier/Glorot, He, fan-in uniform, normal).
    optim: ``Parameter`` and the optimizers SGD, Adagrad, RMSprop, Adam,
        AdamW with torch.optim's semantics, plus the textbook update rules.
    lr_scheduler: closed-form learning-rate schedules matching
        torch.optim.lr_scheduler, and a ``Scheduler`` that drives an optimizer.
    gradcheck: numerical gradients, relative errors, and a layer checker.
    models: ``FullyConnectedNet`` (its arguments, parameters, modes and weights
        from ``network.MLPBase``) and, re-exported from ``training``, the
        ``train`` loop with a ``History`` (:class:`dlcourse.history.History`,
        shared with ``dlcourse.torch_ref.fit``) and ``accuracy``.
    perceptron: the single-layer perceptron of lecture 1.
    diagnostics: per-layer activations and gradients of an MLP (one traced
        forward/backward pass); with per-layer statistics and dead ReLU units
        re-exported from ``traces``.
"""

from . import (batchnorm, dropout, functional, gradcheck, init, layers, losses, lr_scheduler, models, network, optim,
               perceptron, traces, training)

__all__ = ["batchnorm", "dropout", "functional", "gradcheck", "init", "layers", "losses", "lr_scheduler", "models",
           "network", "optim", "perceptron", "traces", "training"]
from . import diagnostics  # per-layer activations/gradients of an MLP, dead units (lecture L04)
__all__ += ["diagnostics"]
