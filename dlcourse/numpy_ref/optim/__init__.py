"""Optimizers with torch.optim's semantics, in float64 numpy.

Two layers of the same ideas, one copy of the arithmetic:

* **Pure update cores** — one per algorithm, in the shape of torch's
  ``torch.optim.adam._single_tensor_adam``: ``_single_tensor_sgd``,
  ``_single_tensor_adagrad``, ``_single_tensor_rmsprop``, ``_single_tensor_adam``
  (Adam and AdamW) take lists of parameters, gradients and state arrays
  and update them in place.  They are the only place the math is written.
* **Classes with torch's semantics** — :class:`SGD`, :class:`Adagrad`,
  :class:`RMSprop`, :class:`Adam`, :class:`AdamW` over :class:`Parameter`
  objects, with torch's names, arguments, defaults, ``param_groups``,
  ``state`` keys, ``step()``, ``zero_grad()``, ``state_dict()`` and
  ``load_state_dict()``.  ``step()`` gathers a group's state into lists and
  calls the core.  Given the same gradients they follow the same trajectory as
  ``torch.optim`` in float64 (to rounding), also when a group's ``"lr"`` is
  changed between steps (which is what schedulers do).  They implement torch's
  single-tensor code path (the CPU default) without the
  ``maximize``/``foreach``/``fused``/``capturable``/``differentiable`` switches.
* **Textbook update rules** — :func:`momentum_ewa_update`,
  :func:`adagrad_update`, :func:`rmsprop_update` and :func:`adam_update` are
  small pure functions (they return new arrays and modify nothing) in the
  form lecture L07 writes them, to show next to the torch classes.  Each
  calls its algorithm's core on copies of its inputs; what differs from the
  class is documented per function (defaults such as eps = 1e-7, the EWA form
  of momentum, optional bias correction).

Differences from torch worth knowing:

* ``state[p]["step"]`` is a Python float here; torch keeps a float32 0-d
  tensor (its ``.item()`` is the same number).
* :class:`Parameter` copies its data (float64); the optimizers update
  ``p.data`` in place.
* Momentum as an exponentially weighted average, v_t = beta v_{t-1} +
  (1 - beta) g_t with v_0 = 0 (L07), equals (1 - beta) times the buffer b_t of
  a fresh ``SGD(momentum=beta)`` (dampening 0) at *every* step t >= 1, the
  first included: torch creates its buffer on the first step as b_1 = g_1,
  which is beta * 0 + g_1, and v_1 = (1 - beta) g_1 (bit for bit); from then
  on both obey the same recursion, so v_t = (1 - beta) b_t exactly in real
  arithmetic and to rounding in float64.  Hence the EWA form with learning
  rate lr follows the same trajectory as torch's SGD with lr * (1 - beta)
  (see :func:`momentum_ewa_update`).  It does *not* equal
  ``SGD(momentum=beta, dampening=beta)``, whose buffer also starts at g_1,
  not (1 - beta) g_1: that buffer exceeds v_t by beta**t g_1 at step t.

Modules: :mod:`.sgd`, :mod:`.adagrad`, :mod:`.rmsprop`, :mod:`.adam` (class,
core and textbook rule of each algorithm) and :mod:`._base` (``Parameter``,
``Optimizer``).
"""

from ._base import Optimizer, Parameter
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, AdamW, adam_update
from .rmsprop import RMSprop, rmsprop_update
from .sgd import SGD, momentum_ewa_update

__all__ = [
    "Parameter",
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "momentum_ewa_update",
    "adagrad_update",
    "rmsprop_update",
    "adam_update",
]
