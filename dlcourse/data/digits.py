"""scikit-learn's 8x8 handwritten digits, split into train/validation/test and standardized.

The 1797 images (10 classes) ship with scikit-learn, so nothing is downloaded.
scikit-learn itself is imported on the first call, not on import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dlcourse.validation import check_integer, check_real_in_range


__all__ = ["DIGITS_NUM_CLASSES", "DIGITS_IMAGE_SHAPE", "DigitsSplits", "load_digits"]

DIGITS_NUM_CLASSES = 10
DIGITS_IMAGE_SHAPE = (1, 8, 8)  # (channels, height, width), as torch's conv layers expect


@dataclass
class DigitsSplits:
    """The digits data split into train, validation and test sets.

    Attributes:
        X_train, X_val, X_test: float64 inputs, shape (N, 64) flattened or
            (N, 1, 8, 8) as images.
        y_train, y_val, y_test: int64 labels in 0..9, shape (N,).
        mean, std: the training-set statistics used for standardization,
            shaped like one sample ((64,) or (1, 8, 8)), so that
            ``X_raw = X * std + mean``; ``None`` when ``standardize=False``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray | None
    std: np.ndarray | None

    @property
    def num_classes(self) -> int:
        """Number of classes (10)."""
        return DIGITS_NUM_CLASSES

    def __repr__(self) -> str:  # shapes, not thousands of numbers
        return (
            f"DigitsSplits(train={self.X_train.shape}, val={self.X_val.shape}, "
            f"test={self.X_test.shape}, standardized={self.mean is not None})"
        )


def load_digits(
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    flatten: bool = True,
) -> DigitsSplits:
    """Load scikit-learn's 8x8 digits, split and standardized.

    The 1797 samples are split with stratification (every split has the
    same class proportions) into test, validation and training sets of
    ``round(test_fraction * 1797)``, ``round(val_fraction * 1797)`` and the
    remaining samples (359 / 359 / 1079 with the defaults).

    Standardization uses the *training* statistics only, per pixel:
    ``X = (X_raw - mean) / std`` with ``mean`` and ``std`` (population
    standard deviation, ddof=0) computed on the training set and applied
    unchanged to the validation and test sets — using their own statistics
    would leak information about them into training.  Pixels that are
    constant on the training set (some border pixels are always 0) have
    std 0; for them std is set to 1, so they become 0 instead of NaN.  This
    is what ``sklearn.preprocessing.StandardScaler`` does.

    Args:
        val_fraction: fraction of all samples used for validation, in (0, 1).
        test_fraction: fraction of all samples used for testing, in (0, 1);
            ``val_fraction + test_fraction`` must be < 1.
        seed: random seed of the split (``random_state`` of
            ``sklearn.model_selection.train_test_split``).
        standardize: standardize with training statistics (True) or keep
            the raw pixel values 0..16 (False).
        flatten: return inputs as vectors of 64 pixels (True) or as
            single-channel images of shape (1, 8, 8) for conv nets (False).

    Returns:
        A :class:`DigitsSplits`.

    Raises:
        ValueError: naming the argument when a fraction is outside (0, 1), the
            fractions leave a split with fewer samples than classes, or ``seed``
            is not an integer >= 0.

    Shape:
        X_*: (N, 64) if flatten else (N, 1, 8, 8); y_*: (N,);
        mean, std: (64,) if flatten else (1, 8, 8).

    PyTorch counterpart: none; wrap the arrays in
    ``torch.utils.data.TensorDataset`` to use them with a ``DataLoader``.
    """
    val_fraction = check_real_in_range(val_fraction, "val_fraction", 0.0, 1.0, include_low=False, include_high=False)
    test_fraction = check_real_in_range(test_fraction, "test_fraction", 0.0, 1.0, include_low=False,
                                        include_high=False)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}"
        )
    seed = check_integer(seed, "seed", minimum=0)

    import sklearn.datasets
    from sklearn.model_selection import train_test_split

    digits = sklearn.datasets.load_digits()
    X = digits.data.astype(np.float64)
    y = digits.target.astype(np.int64)
    n = len(y)

    n_test = round(test_fraction * n)
    n_val = round(val_fraction * n)
    n_train = n - n_test - n_val
    # Stratification needs at least one sample of every class in every split.
    for argument, split, size in [
        ("test_fraction", "test", n_test),
        ("val_fraction", "validation", n_val),
        ("val_fraction + test_fraction", "training", n_train),
    ]:
        if size < DIGITS_NUM_CLASSES:
            raise ValueError(
                f"{argument} leaves the {split} split {size} samples, fewer than the "
                f"{DIGITS_NUM_CLASSES} classes (a stratified split needs at least one of each)"
            )

    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=n_test, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=n_val, stratify=y_rest, random_state=seed
    )

    mean = std = None
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0.0] = 1.0  # constant pixels: avoid 0/0
        X_train, X_val, X_test = [(part - mean) / std for part in (X_train, X_val, X_test)]

    if not flatten:
        X_train, X_val, X_test = [part.reshape(-1, *DIGITS_IMAGE_SHAPE) for part in (X_train, X_val, X_test)]
        if standardize:
            mean, std = mean.reshape(DIGITS_IMAGE_SHAPE), std.reshape(DIGITS_IMAGE_SHAPE)

    return DigitsSplits(X_train, y_train, X_val, y_val, X_test, y_test, mean, std)
