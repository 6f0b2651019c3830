"""dlcourse.data: digits splits and standardization, toy 2-D sets."""

import numpy as np
import pytest
import sklearn.datasets
from sklearn.preprocessing import StandardScaler

from dlcourse import data

N_DIGITS = 1797


@pytest.fixture(scope="module")
def splits():
    return data.load_digits()


@pytest.fixture(scope="module")
def raw_splits():
    return data.load_digits(standardize=False)


def parts(s):
    return [(s.X_train, s.y_train), (s.X_val, s.y_val), (s.X_test, s.y_test)]


def test_digits_sizes_dtypes_and_no_nan(splits):
    assert [len(y) for _, y in parts(splits)] == [1079, 359, 359]
    for X, y in parts(splits):
        assert X.shape == (len(y), 64)
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert np.isfinite(X).all(), "standardized digits contain NaN or inf"
        assert set(np.unique(y)) == set(range(10))
    assert splits.num_classes == 10
    assert splits.mean.shape == splits.std.shape == (64,)


@pytest.mark.parametrize("val_fraction, test_fraction", [(0.1, 0.3), (0.25, 0.05)])
def test_digits_other_fractions(val_fraction, test_fraction):
    s = data.load_digits(val_fraction=val_fraction, test_fraction=test_fraction, seed=3)
    n_val, n_test = round(val_fraction * N_DIGITS), round(test_fraction * N_DIGITS)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (N_DIGITS - n_val - n_test, n_val, n_test)


def test_digits_splits_partition_the_data(raw_splits):
    """Every original sample lands in exactly one split (compare sorted rows)."""
    full = sklearn.datasets.load_digits()
    X_all = np.concatenate([X for X, _ in parts(raw_splits)])
    y_all = np.concatenate([y for _, y in parts(raw_splits)])
    rows = np.column_stack([X_all, y_all])
    expected_rows = np.column_stack([full.data, full.target])
    np.testing.assert_array_equal(
        rows[np.lexsort(rows.T[::-1])], expected_rows[np.lexsort(expected_rows.T[::-1])],
        err_msg="train + val + test is not a partition of the digits data",
    )


def test_digits_split_is_stratified(splits):
    class_counts = np.bincount(sklearn.datasets.load_digits().target)
    for (_, y), fraction, name in zip(parts(splits), (1079 / N_DIGITS, 0.2, 0.2), ("train", "val", "test")):
        counts = np.bincount(y, minlength=10)
        expected = fraction * class_counts
        worst = int(np.argmax(np.abs(counts - expected)))
        assert np.all(np.abs(counts - expected) <= 1), (
            f"{name} split is not stratified: class {worst} has {counts[worst]} samples, expected {expected[worst]:.1f} ± 1"
        )


def test_digits_train_is_standardized(splits):
    mean, std = splits.X_train.mean(axis=0), splits.X_train.std(axis=0)
    constant = splits.std == 1.0
    np.testing.assert_allclose(mean, 0.0, atol=1e-12, err_msg="train features must have mean 0")
    np.testing.assert_allclose(std[~constant], 1.0, rtol=1e-12, err_msg="train features must have std 1")
    assert np.all(splits.X_train[:, constant] == 0.0), "constant pixels must become 0, not NaN"
    assert constant.any(), "the digits have pixels that are always 0; their std must be replaced by 1"


def test_digits_val_and_test_use_train_statistics(splits, raw_splits):
    """Recompute with sklearn's StandardScaler fitted on the raw training set only."""
    scaler = StandardScaler().fit(raw_splits.X_train)
    np.testing.assert_allclose(splits.mean, scaler.mean_, rtol=1e-12, atol=1e-12, err_msg="mean")
    np.testing.assert_allclose(splits.std, scaler.scale_, rtol=1e-12, err_msg="std")
    for name in ("X_train", "X_val", "X_test"):
        np.testing.assert_allclose(
            getattr(splits, name), scaler.transform(getattr(raw_splits, name)), rtol=1e-12, atol=1e-12,
            err_msg=f"{name} is not standardized with the training statistics",
        )
    # The validation set is *not* exactly standardized by its own statistics.
    assert np.abs(splits.X_val.mean(axis=0)).max() > 1e-3
    np.testing.assert_allclose(splits.X_val * splits.std + splits.mean, raw_splits.X_val, atol=1e-12)


def test_digits_raw_values(raw_splits):
    assert raw_splits.mean is None and raw_splits.std is None
    for X, _ in parts(raw_splits):
        assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))


def test_digits_images(splits):
    images = data.load_digits(flatten=False)
    for name, n in (("X_train", 1079), ("X_val", 359), ("X_test", 359)):
        X = getattr(images, name)
        assert X.shape == (n, 1, 8, 8)
        np.testing.assert_array_equal(X.reshape(n, 64), getattr(splits, name), err_msg=f"{name} images != flattened")
    assert images.mean.shape == images.std.shape == (1, 8, 8)
    np.testing.assert_array_equal(images.y_train, splits.y_train)


def test_digits_determinism(splits):
    again = data.load_digits(seed=0)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(splits, name), err_msg=f"{name} differs for seed 0")
    other = data.load_digits(seed=1)
    assert not np.array_equal(other.y_train, splits.y_train), "a different seed must give a different split"


@pytest.mark.parametrize(
    "kwargs, argname",
    [
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": "0.2"}, "val_fraction"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction"),
        ({"test_fraction": 0.001}, "test_fraction"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_digits_bad_arguments(kwargs, argname):
    with pytest.raises(ValueError, match=argname):
        data.load_digits(**kwargs)


# ---------------------------------------------------------------------------
# toy 2-D sets
# ---------------------------------------------------------------------------

TOY = {
    "xor": (data.make_xor, 200, 2),
    "spirals": (data.make_spirals, 300, 3),
    "moons": (data.make_moons, 200, 2),
    "circles": (data.make_circles, 200, 2),
}


@pytest.mark.parametrize("name", TOY)
def test_toy_shapes_dtypes_balance_determinism(name):
    make, n, classes = TOY[name]
    X, y = make()
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(np.bincount(y), [n // classes] * classes, err_msg=f"{name} classes not balanced")
    X2, y2 = make(seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(seed=1)
    assert not np.array_equal(X, X3), f"{name}: a different seed must give different points"
    X4, y4 = make(n=50)
    assert X4.shape == (50, 2) and y4.shape == (50,)


def test_xor_labels_are_xor_of_signs():
    X, y = data.make_xor(400, noise=0.1, seed=2)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    X0, _ = data.make_xor(8, noise=0.0)
    assert set(map(tuple, X0)) == {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}


def test_circles_radii():
    X, y = data.make_circles(100, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-12)


def test_spirals_uneven_counts_and_radius():
    X, y = data.make_spirals(10, classes=3, noise=0.0)
    np.testing.assert_array_equal(np.bincount(y), [4, 3, 3])
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12


@pytest.mark.parametrize(
    "make, kwargs, argname",
    [
        (data.make_xor, {"n": 0}, "n"),
        (data.make_xor, {"noise": -0.1}, "noise"),
        (data.make_xor, {"seed": -3}, "seed"),
        (data.make_spirals, {"classes": 1}, "classes"),
        (data.make_spirals, {"n": 2, "classes": 3}, "n"),
        (data.make_moons, {"n": 1.5}, "n"),
        (data.make_moons, {"noise": float("nan")}, "noise"),
        (data.make_circles, {"factor": 1.0}, "factor"),
        (data.make_circles, {"factor": 0.0}, "factor"),
    ],
)
def test_toy_bad_arguments(make, kwargs, argname):
    with pytest.raises(ValueError, match=argname):
        make(**kwargs)
