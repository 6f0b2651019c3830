"""ddp_demo: sharding, the single-process oracle, and a real 2-process torchrun (gloo on CPU)."""

import pytest
import torch
from torch import nn

from dlcourse.torch_ref import ddp_demo


def test_shards_partition_the_batch_in_order():
    parts = [ddp_demo.shard(12, r, 3) for r in range(3)]
    assert [list(range(12))[p] for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="world_size"):
        ddp_demo.shard(10, 0, 3)
    with pytest.raises(ValueError, match="rank"):
        ddp_demo.shard(12, 3, 3)


def test_mean_of_shard_gradients_is_the_full_batch_gradient():
    """The identity DDP relies on, checked without processes: average of per-shard mean gradients."""
    X, y = ddp_demo.make_problem(48, seed=3)
    grads = []
    for rank in range(4):
        model = ddp_demo.make_model(seed=3)
        part = ddp_demo.shard(48, rank, 4)
        nn.functional.cross_entropy(model(X[part]), y[part]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    full, _ = ddp_demo.train_single_process(X, y, steps=1, lr=0.1, seed=3)
    avg = torch.stack(grads).mean(0)
    worst = int((avg - full[0]).abs().argmax())
    torch.testing.assert_close(avg, full[0], rtol=1e-12, atol=1e-14,
                               msg=f"shard average differs from the full-batch gradient at element {worst}")


def test_identical_initialization_from_the_seed():
    a, b = ddp_demo.make_model(seed=5), ddp_demo.make_model(seed=5)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), f"{name} differs between two models built with the same seed"


@pytest.mark.timeout(300)
def test_two_process_torchrun_matches_single_process_training():
    result = ddp_demo.launch(2, steps=3, timeout=240)
    assert result["world_size"] == 2 and result["per_rank_batch"] * 2 == result["batch"]
    tol = 1e-12 if result["dtype"] == "torch.float64" else 1e-5
    worst = max(result["max_abs_grad_diff_per_step"])
    assert worst <= tol, f"all-reduced gradients differ from the full-batch ones by {worst} > {tol}"
    assert result["max_abs_param_diff"] <= tol, f"final parameters differ by {result['max_abs_param_diff']}"
    assert result["max_abs_param_diff_between_replicas"] == 0.0, "replicas must stay bit-identical"
    assert result["local_vs_full_grad_diff"] > 1e-3, "a single shard's gradient should differ from the full batch's"
