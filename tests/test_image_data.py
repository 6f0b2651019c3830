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


# --- glyphs, cluttered digits and the source task of mini_vgg (transfer learning, L11/A5) ---


def test_glyphs_are_reproducible_balanced_and_alphabets_differ():
    from dlcourse.data import glyph_alphabet, make_glyphs

    X, y = make_glyphs(120, num_classes=6, seed=2)
    X2, y2 = make_glyphs(120, num_classes=6, seed=2)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert X.shape == (120, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() >= 0 and X.max() <= 1 and np.bincount(y).tolist() == [20] * 6
    a0, a1 = glyph_alphabet(5, alphabet=0), glyph_alphabet(5, alphabet=1)
    assert all(2 <= len(c) <= 3 for c in a0)
    assert not np.allclose(a0[0][0][:2], a1[0][0][:2]), "another alphabet gives other characters"
    # the first characters do not depend on how many are drawn
    assert all(np.array_equal(p, q) for p, q in zip(glyph_alphabet(30)[4], a0[4]))
    # difficulty 0: strokes on a flat background, high contrast; ink covers part of the image
    X0, _ = make_glyphs(40, num_classes=4, difficulty=0.0, seed=1)
    gray = X0.mean(1)
    ink = np.abs(gray - np.median(gray, axis=(1, 2), keepdims=True)) > 0.2
    assert 0.03 < ink.mean() < 0.5, f"ink fraction {ink.mean():.3f}"
    for kwargs, name in [({"num_classes": 1}, "num_classes"), ({"difficulty": -0.1}, "difficulty"),
                         ({"alphabet": -1}, "alphabet"), ({"size": 8}, "size")]:
        with pytest.raises(ValueError, match=name):
            make_glyphs(10, **kwargs)


def test_cluttered_digits_are_the_digit_splits_drawn_into_scenes():
    from dlcourse.data import load_cluttered_digits

    s = load_cluttered_digits(seed=3)
    flat = load_digits(seed=3, standardize=False)
    np.testing.assert_array_equal(s.y_train, flat.y_train)
    np.testing.assert_array_equal(s.y_test, flat.y_test)
    assert s.X_train.shape == (len(flat.y_train), 3, 32, 32) and s.classes == tuple("0123456789")
    raw = load_cluttered_digits(seed=3, normalize=False)
    assert np.array_equal(raw.X_test, load_cluttered_digits(seed=3, normalize=False).X_test), "reproducible"
    assert raw.X_train.min() >= 0 and raw.X_train.max() <= 1
    mean, std = channel_stats(raw.X_train)
    np.testing.assert_allclose(s.X_val, normalize_images(raw.X_val, mean, std), rtol=1e-5, atol=1e-5)
    # difficulty 0: centred, upright, no clutter: the digit's 8x8 box spans the central 0.62 of the image,
    # and the ink (distance from the background colour) pooled back to 8x8 is the digit
    clean = load_cluttered_digits(seed=3, difficulty=0.0, normalize=False)
    ink = np.abs(clean.X_train - clean.X_train[:, :, :1, :1]).max(1)  # the corner pixel is background
    small = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(ink[:, None, 6:26, 6:26]), 8)[:, 0].numpy()
    corr = np.corrcoef(small.ravel(), (flat.X_train / 16.0).ravel())[0, 1]
    assert corr > 0.8, f"the digits must show through, correlation {corr:.3f} (expected > 0.8)"
    with pytest.raises(ValueError, match="difficulty"):
        load_cluttered_digits(difficulty=2.0)


def test_source_task_is_shapes_plus_glyphs_balanced_and_reproducible():
    from dlcourse.data import make_source_task

    X, y = make_source_task(240, glyph_classes=6, seed=4)
    assert X.shape == (240, 3, 32, 32) and X.dtype == np.float32
    assert np.array_equal(y, make_source_task(240, glyph_classes=6, seed=4)[1])
    counts = np.bincount(y, minlength=16)
    assert len(counts) == 16 and counts.min() >= 12 and counts.max() <= 18, counts
    assert not np.array_equal(X, make_source_task(240, glyph_classes=6, seed=5)[0])
    with pytest.raises(ValueError, match="difficulties"):
        make_source_task(10, difficulties=())
