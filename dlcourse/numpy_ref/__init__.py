"""Reference implementations in plain float64 numpy.

These are the instructor's versions of what students write in the numpy
assignments, and the ground truth the grading compares against.  Each
function documents its math, its shapes, and the PyTorch function it matches.

Submodules:
    functional: activations (sigmoid, tanh, relu, leaky_relu, elu) with their
        derivatives, softmax and log_softmax.
    losses: losses returning ``(loss, grad)`` (mse, binary cross-entropy,
        soft margin, cross-entropy).
    layers: forward/backward pairs (affine and activation layers).
    gradcheck: numerical gradients and relative errors for gradient checking.
    perceptron: the single-layer perceptron of lecture 1.
"""

from . import functional, gradcheck, layers, losses, perceptron

__all__ = ["functional", "gradcheck", "layers", "losses", "perceptron"]
