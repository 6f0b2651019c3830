"""get_device, seed_everything and reproducible DataLoader workers."""

import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from dlcourse.torch_ref import get_device, make_generator, seed_everything, seed_worker, worker_init_fn


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_seed_everything_repeats_python_numpy_and_torch_draws():
    def draws():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    seed_everything(123)
    first = draws()
    seed_everything(123)
    assert draws() == first, "the same seed must give the same draws from random, numpy and torch"
    seed_everything(124)
    assert draws() != first


def test_seed_everything_deterministic_sets_cudnn_flags():
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
              torch.are_deterministic_algorithms_enabled())
    try:
        seed_everything(0, deterministic=True)
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[:2]
        torch.use_deterministic_algorithms(before[2])


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


class _NumpyNoise(Dataset):
    """Each item draws from numpy's global generator, as numpy-based augmentations do."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([float(i), float(np.random.rand()), float(random.random())])


def _epoch(seed: int, workers: int) -> torch.Tensor:
    loader = DataLoader(_NumpyNoise(), batch_size=2, shuffle=True, num_workers=workers,
                        worker_init_fn=seed_worker, generator=make_generator(seed))
    return torch.cat(list(loader))


def test_worker_init_fn_makes_shuffling_and_worker_randomness_reproducible():
    assert worker_init_fn is seed_worker
    a, b = _epoch(7, workers=2), _epoch(7, workers=2)
    torch.testing.assert_close(a, b, msg="same generator seed: same order and same per-worker numpy draws")
    assert not torch.equal(_epoch(8, workers=2)[:, 0], a[:, 0]), "another seed must shuffle differently"
    # the two workers draw different numpy streams (no duplicated augmentation)
    numpy_draws = a[:, 1]
    assert len(set(numpy_draws.tolist())) == len(numpy_draws)
