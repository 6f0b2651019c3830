"""Command-line entry points of the course's demos and experiments.

The reference packages (:mod:`dlcourse.numpy_ref`, :mod:`dlcourse.torch_ref`,
:mod:`dlcourse.data`) hold library code only; the thin programs that parse arguments,
print and write files live here, one module each, run with ``python -m``:

* :mod:`dlcourse.demos.ddp_demo` — one rank of the DistributedDataParallel demo
  (:mod:`dlcourse.torch_ref.ddp_demo`), started by ``torchrun``::

      torchrun --standalone --nproc_per_node=2 -m dlcourse.demos.ddp_demo --out result.json

* :mod:`dlcourse.demos.transfer_experiment` — the measured transfer table of the README
  (:mod:`dlcourse.torch_ref.transfer_experiment`)::

      python -m dlcourse.demos.transfer_experiment
"""
