"""Batch normalization and dropout written from tensor operations.

Both modules subclass ``torch.nn.Module`` only; their forward passes are plain
tensor arithmetic and autograd computes the backward pass.  They behave like
``torch.nn.BatchNorm1d`` and ``torch.nn.Dropout`` in training and evaluation
mode and have the same ``state_dict`` keys, so weights load either way::

    ours = BatchNorm1d(16)
    ours.load_state_dict(torch.nn.BatchNorm1d(16).state_dict())
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = ["BatchNorm1d", "Dropout"]


class BatchNorm1d(nn.Module):
    """Batch normalization over a batch of vectors or sequences.

    Math:
        y = (x - mean) / sqrt(var + eps) * weight + bias, per channel c.  In training
        mode (or without running statistics) mean and var (biased, ddof=0) are the
        batch statistics over N (and L); the running statistics are updated in place as
        running = (1 - momentum) * running + momentum * batch_stat, using the *unbiased*
        batch variance for ``running_var`` (momentum=None: cumulative average,
        factor 1 / num_batches_tracked).  In evaluation mode the running statistics
        are used instead.

    Args:
        num_features: number of channels C, >= 1.
        eps: added to the variance for stability, > 0.
        momentum: weight of the new batch in the running statistics, in [0, 1],
            or None for a cumulative moving average.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep ``running_mean`` (init 0), ``running_var`` (init 1)
            and ``num_batches_tracked`` buffers; without them batch statistics are
            used in evaluation mode too.
        device, dtype: of the parameters and buffers.

    Shape:
        input and output: (N, C) or (N, C, L).

    Raises:
        ValueError: naming the argument for a bad constructor argument, an input of
            the wrong rank or channel count, or a training batch with a single value
            per channel.

    PyTorch counterpart: ``torch.nn.BatchNorm1d`` (same arguments, buffers and
    ``state_dict`` keys: weight, bias, running_mean, running_var, num_batches_tracked).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        if not isinstance(eps, numbers.Real) or not eps > 0:
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0):
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum!r}")
        factory = {"device": device, "dtype": dtype}
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(self.num_features, **factory))
            self.bias = nn.Parameter(torch.zeros(self.num_features, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(self.num_features, **factory))
            self.register_buffer("running_var", torch.ones(self.num_features, **factory))
            self.register_buffer(
                "num_batches_tracked",
                torch.tensor(0, dtype=torch.long, device=device),
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            with torch.no_grad():
                self.weight.fill_(1.0)
                self.bias.zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() not in (2, 3):
            raise ValueError(f"input must have shape (N, C) or (N, C, L), got shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"input must have {self.num_features} channels (dimension 1), got shape {tuple(input.shape)}"
            )
        dims = (0,) if input.dim() == 2 else (0, 2)
        shape = (1, -1) if input.dim() == 2 else (1, -1, 1)
        use_batch_stats = self.training or self.running_mean is None

        if use_batch_stats:
            count = input.numel() // self.num_features
            if self.training and count <= 1:
                raise ValueError(
                    f"input: expected more than 1 value per channel when training, got shape {tuple(input.shape)}"
                )
            mean = input.mean(dim=dims)
            var = ((input - mean.reshape(shape)) ** 2).mean(dim=dims)  # biased, for normalizing
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked.add_(1)
                    factor = (
                        1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                    )
                    unbiased = var.detach() * (count / max(count - 1, 1))
                    self.running_mean.mul_(1.0 - factor).add_(mean.detach(), alpha=factor)
                    self.running_var.mul_(1.0 - factor).add_(unbiased, alpha=factor)
        else:
            mean, var = self.running_mean, self.running_var

        out = (input - mean.reshape(shape)) * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class Dropout(nn.Module):
    """Inverted dropout with torch's convention: ``p`` is the probability of DROPPING.

    Math:
        training: y = x * m / (1 - p) with m ~ Bernoulli(1 - p) elementwise (so
        E[y] = x); p = 1 gives zeros.  Evaluation: y = x.  (The lectures' keep
        probability is 1 - p.)

    Args:
        p: drop probability, in [0, 1].
        inplace: accepted for signature compatibility with torch; the output is
            always a new tensor.

    Shape:
        input and output: any shape.

    Raises:
        ValueError: if ``p`` is not in [0, 1].

    PyTorch counterpart: ``torch.nn.Dropout(p)``.  On the CPU the mask is drawn
    exactly as torch draws it, so with the same seed both give the same output; on
    CUDA torch uses a fused kernel with its own random stream (same distribution,
    different masks).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return input
        if self.p == 1.0:
            return input * torch.zeros_like(input)
        keep = 1.0 - self.p
        noise = torch.empty_like(input).bernoulli_(keep)
        noise.div_(keep)
        return input * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
