"""How deep to fine-tune (issue #21, lecture L11 Section 6): layer-wise learning rates, one parameter group
per block, the epochs rule, fine-tuning the top blocks with and without gradual unfreezing, and the grid of
labels per class x depth.  Fast, seeded, CPU: a randomly initialised MiniVGG on random images, except the
last test, which runs the real grid for one labelled image per class and one epoch."""

import copy

import pytest
import torch
from torch import nn

from dlcourse.demos import transfer_experiment as transfer_cli
from dlcourse.torch_ref import MiniVGG, conv_blocks, freeze
from dlcourse.torch_ref.transfer_experiment import (
    FINETUNE_DEPTHS,
    block_param_groups,
    finetune_depth_accuracy,
    finetune_epochs,
    finetune_top_blocks,
    layerwise_lr_factors,
    run_depth_experiment,
)

NUM_CLASSES = 4


@pytest.fixture
def pretrained():
    """A stand-in for a pretrained network: MiniVGG with seeded random weights and non-trivial BN statistics."""
    torch.manual_seed(0)
    model = MiniVGG(NUM_CLASSES)
    with torch.no_grad():
        model.train()
        model(torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1)))  # running stats move
    return model.eval()


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(24, 3, 32, 32, generator=g)
    y = torch.arange(24) % NUM_CLASSES
    X_test = torch.randn(12, 3, 32, 32, generator=g)
    y_test = torch.arange(12) % NUM_CLASSES
    return X, y, X_test, y_test


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- layerwise_lr_factors and block_param_groups ---------------------------------------------------------


def test_layerwise_factors_divide_by_decay_from_the_top_block_down():
    assert layerwise_lr_factors(4, top_factor=0.3, decay=3.0) == pytest.approx([0.3, 0.1, 0.3 / 9, 0.3 / 27])
    assert layerwise_lr_factors(2, top_factor=0.3, decay=1.0) == [0.3, 0.3]
    assert layerwise_lr_factors(1) == [0.3]


@pytest.mark.parametrize("kwargs, name", [({"num_blocks": 0}, "num_blocks"), ({"num_blocks": True}, "num_blocks"),
                                          ({"num_blocks": 2, "decay": 0.0}, "decay"),
                                          ({"num_blocks": 2, "top_factor": -0.1}, "top_factor")])
def test_layerwise_factors_reject_bad_arguments(kwargs, name):
    num_blocks = kwargs.pop("num_blocks")
    with pytest.raises(ValueError, match=name):
        layerwise_lr_factors(num_blocks, **kwargs)


def test_block_param_groups_one_group_per_block_bottom_first_then_the_head(pretrained):
    blocks = conv_blocks(pretrained)
    head = nn.Linear(512, NUM_CLASSES)
    groups = block_param_groups(blocks, head, 1e-2, [0.3, 0.1, 0.03, 0.01])  # top block first
    assert [g["name"] for g in groups] == ["block 1", "block 2", "block 3", "block 4", "head"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    for group, module in zip(groups, [*blocks, head]):
        assert [id(p) for p in group["params"]] == [id(p) for p in module.parameters()]
    optimizer = torch.optim.Adam(groups)  # torch accepts them as they are, and keeps the names
    assert [g["name"] for g in optimizer.param_groups] == [g["name"] for g in groups]
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([g["lr"] for g in groups])


def test_block_param_groups_reject_bad_arguments(pretrained):
    blocks, head = conv_blocks(pretrained)[-2:], nn.Linear(512, NUM_CLASSES)
    with pytest.raises(ValueError, match="factors"):
        block_param_groups(blocks, head, 1e-3, [0.3])
    with pytest.raises(ValueError, match="factors"):
        block_param_groups(blocks, head, 1e-3, [0.3, -0.1])
    with pytest.raises(ValueError, match="lr"):
        block_param_groups(blocks, head, 0.0, [0.3, 0.1])


def test_finetune_epochs_at_least_six_epochs_and_twenty_steps():
    assert finetune_epochs(30) == 20      # 3 labels x 10 classes: one full batch per epoch
    assert finetune_epochs(100) == 10     # 2 minibatches of 50 per epoch
    assert finetune_epochs(300) == 6
    assert finetune_epochs(1000) == 6
    assert finetune_epochs(1000, 100, min_epochs=2, min_steps=50) == 5
    with pytest.raises(ValueError, match="num_train"):
        finetune_epochs(0)
    with pytest.raises(ValueError, match="batch_size"):
        finetune_epochs(10, 0)


# --- finetune_top_blocks ---------------------------------------------------------------------------------


def test_fine_tuning_changes_only_the_top_blocks_and_never_the_given_model(pretrained, data):
    X, y, X_test, y_test = data
    before = _state(pretrained)
    net, curve = finetune_top_blocks(pretrained, X, y, num_blocks=2, epochs=2, num_classes=NUM_CLASSES,
                                     X_test=X_test, y_test=y_test)
    assert all(torch.equal(v, pretrained.state_dict()[k]) for k, v in before.items()), "the model was modified"
    stem, top = net
    blocks = conv_blocks(pretrained)
    assert _equal(stem, nn.Sequential(*blocks[:2])), "the frozen blocks (weights and BN statistics) changed"
    tuned = dict(top.features.named_parameters())
    original = dict(nn.Sequential(*blocks[2:]).named_parameters())
    assert all(not torch.equal(tuned[k], original[k]) for k in original), "a fine-tuned parameter did not move"
    bn = [m for m in top.features.modules() if isinstance(m, nn.BatchNorm2d)][0]
    bn_before = [m for m in blocks[2].modules() if isinstance(m, nn.BatchNorm2d)][0]
    assert not torch.equal(bn.running_mean, bn_before.running_mean), "the fine-tuned BN kept its statistics"
    assert len(curve) == 2 and all(0.0 <= a <= 1.0 for a in curve)
    assert not net.training
    with torch.no_grad():
        assert net(X_test).shape == (len(X_test), NUM_CLASSES)


def test_gradual_unfreezing_opens_one_block_per_epoch_from_the_top(pretrained, data):
    X, y, _, _ = data
    blocks = conv_blocks(pretrained)
    one, _ = finetune_top_blocks(pretrained, X, y, num_blocks=2, epochs=1, gradual_unfreezing=True,
                                 num_classes=NUM_CLASSES)
    lower, upper = one[1].features  # the fine-tuned blocks 3 and 4
    assert _equal(lower, blocks[2]), "after epoch 1 the lower block must still be frozen (BN statistics too)"
    assert not _equal(upper, blocks[3]), "in epoch 1 the top block must learn"
    two, _ = finetune_top_blocks(pretrained, X, y, num_blocks=2, epochs=2, gradual_unfreezing=True,
                                 num_classes=NUM_CLASSES)
    assert not _equal(two[1].features[0], blocks[2]), "epoch 2 must unfreeze the next block"


def test_layerwise_rates_move_the_lower_blocks_less(pretrained, data):
    X, y, _, _ = data
    net, _ = finetune_top_blocks(pretrained, X, y, num_blocks=None, decay=10.0, epochs=1, num_classes=NUM_CLASSES)
    assert len(net[0]) == 0, "num_blocks=None fine-tunes every block: nothing is left in the stem"
    tuned, original = net[1].features, pretrained.features

    def mean_step(i):  # mean |change| of the i-th conv layer's weight
        conv = [m for m in tuned.modules() if isinstance(m, nn.Conv2d)][i]
        before = [m for m in original.modules() if isinstance(m, nn.Conv2d)][i]
        return (conv.weight - before.weight).abs().mean().item()

    assert mean_step(0) < 0.01 * mean_step(-1), (mean_step(0), mean_step(-1))


def test_seeded_runs_repeat_exactly_and_the_accuracy_is_the_last_epoch(pretrained, data):
    X, y, X_test, y_test = data
    kwargs = dict(num_blocks=1, epochs=3, num_classes=NUM_CLASSES, seed=5, X_test=X_test, y_test=y_test)
    _, a = finetune_top_blocks(pretrained, X, y, **kwargs)
    _, b = finetune_top_blocks(pretrained, X, y, **kwargs)
    assert a == b
    acc = finetune_depth_accuracy(pretrained, X, y, X_test, y_test, depth="last block", epochs=3,
                                  num_classes=NUM_CLASSES, seed=5)
    assert acc == a[-1]


def test_a_model_frozen_with_freeze_is_fine_tuned_on_an_unfrozen_copy(pretrained, data):
    X, y, _, _ = data
    frozen = freeze(copy.deepcopy(pretrained))
    net, _ = finetune_top_blocks(frozen, X, y, num_blocks=1, epochs=1, num_classes=NUM_CLASSES)
    bn = [m for m in net[1].features.modules() if isinstance(m, nn.BatchNorm2d)][0]
    bn_before = [m for m in conv_blocks(frozen)[-1].modules() if isinstance(m, nn.BatchNorm2d)][0]
    assert not torch.equal(bn.running_mean, bn_before.running_mean), "freeze's BN hook survived on the copy"
    assert not any(p.requires_grad for p in frozen.parameters()), "the given frozen model must stay frozen"


def test_bad_arguments_are_named(pretrained, data):
    X, y, X_test, y_test = data
    with pytest.raises(ValueError, match="num_blocks"):
        finetune_top_blocks(pretrained, X, y, num_blocks=5)
    with pytest.raises(ValueError, match="y_train"):
        finetune_top_blocks(pretrained, X, y[:-1])
    with pytest.raises(ValueError, match="X_test"):
        finetune_top_blocks(pretrained, X, y, X_test=X_test)
    with pytest.raises(ValueError, match="epochs"):
        finetune_top_blocks(pretrained, X, y, epochs=0)
    with pytest.raises(ValueError, match="depth"):
        finetune_depth_accuracy(pretrained, X, y, X_test, y_test, depth="everything")


def test_the_depths_are_the_lecture_s():
    assert list(FINETUNE_DEPTHS) == ["last block", "last two blocks", "whole network"]
    assert FINETUNE_DEPTHS["whole network"] == {"num_blocks": None, "decay": 3.0}


# --- the grid and its command line -----------------------------------------------------------------------


def test_run_depth_experiment_gives_one_accuracy_per_seed_for_every_cell():
    table = run_depth_experiment(seeds=(0,), per_class=(1,), epochs=1, verbose=False)
    assert list(table) == [1]
    assert list(table[1]) == ["frozen", *FINETUNE_DEPTHS, "whole network, gradual unfreezing"]
    assert all(len(v) == 1 and 0.0 <= v[0] <= 1.0 for v in table[1].values())


def test_depth_table_text_and_the_command_line_option(capsys):
    text = transfer_cli.format_depth_table({3: {"frozen": [0.4, 0.6], "last block": [0.5, 0.5]}})
    assert text.splitlines() == ["  3/class  frozen      0.400 / 0.600   mean 0.500",
                                 "  3/class  last block  0.500 / 0.500   mean 0.500"]
    with pytest.raises(SystemExit):
        transfer_cli.main(["--help"])
    assert "--depths" in capsys.readouterr().out
