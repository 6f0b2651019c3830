"""Image datasets for conv nets: digits as 3x32x32 images, procedural shapes, normalization, augmentation."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dlcourse.data import (
    SHAPE_CLASSES,
    GaussianNoise,
    ImageDataset,
    augmentation,
    channel_stats,
    load_digits,
    load_digits_images,
    make_shapes,
    make_shapes_splits,
    normalize_images,
)


def test_digits_images_are_the_digits_upsampled_with_train_statistics():
    s = load_digits_images(seed=3)
    flat = load_digits(seed=3, standardize=False)
    assert s.X_train.shape == (len(flat.y_train), 3, 32, 32) and s.X_train.dtype == np.float32
    np.testing.assert_array_equal(s.y_train, flat.y_train)
    np.testing.assert_array_equal(s.y_test, flat.y_test)
    raw = load_digits_images(seed=3, normalize=False)
    assert raw.X_train.min() >= 0 and raw.X_train.max() <= 1.0 + 1e-6
    assert np.array_equal(raw.X_train[:, 0], raw.X_train[:, 2]), "channels are copies"
    # downsampling back by 4x4 averaging recovers the 8x8 image (up to the bilinear blur)
    small = raw.X_train[:, 0].reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    corr = np.corrcoef(small.ravel(), (flat.X_train / 16).ravel())[0, 1]
    assert corr > 0.95, f"upsampled images must be the digits, correlation {corr:.3f}"
    # normalization with TRAIN statistics only
    mean, std = channel_stats(raw.X_train)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(s.X_val, normalize_images(raw.X_val, mean, std), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.X_train.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(s.X_train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    assert abs(s.X_test.mean()) > 1e-4, "test set must not be normalized with its own statistics"
    assert load_digits_images(channels=1, size=16).X_train.shape[1:] == (1, 16, 16)
    with pytest.raises(ValueError, match="channels"):
        load_digits_images(channels=2)


def test_shapes_are_reproducible_balanced_and_difficulty_controls_variation():
    X, y = make_shapes(200, seed=5)
    X2, y2 = make_shapes(200, seed=5)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(make_shapes(200, seed=6)[0], X)
    assert X.shape == (200, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() >= 0 and X.max() <= 1
    assert np.bincount(y).tolist() == [20] * 10
    assert len(SHAPE_CLASSES) == 10
    # difficulty 0: the same class gives nearly the same (centred, upright) silhouette
    def within_class_spread(difficulty):
        Xd, yd = make_shapes(100, num_classes=2, difficulty=difficulty, seed=1)
        gray = Xd.mean(1)
        contrast = np.abs(gray - np.median(gray, axis=(1, 2), keepdims=True)) > 0.1
        return np.mean([contrast[yd == k].std(0).mean() for k in (0, 1)])
    assert within_class_spread(0.0) < within_class_spread(1.0)
    assert set(make_shapes(30, num_classes=3)[1].tolist()) == {0, 1, 2}
    for kwargs, name in [({"num_classes": 11}, "num_classes"), ({"difficulty": 1.5}, "difficulty"),
                         ({"size": 8}, "size")]:
        with pytest.raises(ValueError, match=name):
            make_shapes(10, **kwargs)


def test_image_dataset_and_dataloader_with_augmentation():
    s = load_digits_images()
    torch.manual_seed(0)
    ds = ImageDataset(s.X_train, s.y_train, transform=augmentation(flip=True, rotation=15, crop_padding=4,
                                                                    noise_std=0.1))
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == len(s.y_train)
    x, label = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and label.dtype == torch.int64
    assert not torch.equal(x, torch.from_numpy(s.X_train[0])), "augmented"
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 3, 32, 32) and yb.shape == (16,)
    plain = ImageDataset(s.X_train, s.y_train)
    assert torch.equal(plain[3][0], torch.from_numpy(s.X_train[3]))
    with pytest.raises(ValueError, match="y"):
        ImageDataset(s.X_train, s.y_train[:-1])


def test_each_augmentation_does_what_it_says():
    img = torch.zeros(3, 8, 8)
    img[:, 2, 1] = 1.0  # one bright pixel, left of centre
    torch.manual_seed(0)
    flips = [augmentation(flip=True)(img) for _ in range(40)]
    mirrored = torch.flip(img, dims=[-1])
    n_flipped = sum(torch.equal(f, mirrored) for f in flips)
    assert 8 < n_flipped < 32 and all(torch.equal(f, img) or torch.equal(f, mirrored) for f in flips)
    shifted = augmentation(flip=False, crop_padding=2)(img)
    assert shifted.shape == img.shape and shifted.sum() <= img.sum()
    noisy = GaussianNoise(0.5, generator=torch.Generator().manual_seed(0))(torch.zeros(3, 64, 64))
    assert abs(noisy.std().item() - 0.5) < 0.02
    rotated = augmentation(flip=False, rotation=90)(torch.ones(1, 9, 9))
    assert rotated.shape == (1, 9, 9)
    assert torch.equal(augmentation(flip=False)(img), img), "no augmentation chosen: identity"


def test_shapes_splits_are_normalized_with_training_statistics():
    s = make_shapes_splits(100, 20, 30, num_classes=5, seed=1)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (100, 20, 30) and s.num_classes == 5
    assert s.classes == SHAPE_CLASSES[:5]
    raw = make_shapes_splits(100, 20, 30, num_classes=5, seed=1, normalize=False)
    mean, std = channel_stats(raw.X_train)
    np.testing.assert_allclose(s.X_test, normalize_images(raw.X_test, mean, std), rtol=1e-5, atol=1e-5)
