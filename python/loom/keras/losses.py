"""The loss loom trains with: sparse categorical cross-entropy, by name, as a function or as a class."""

import numpy as np


class SparseCategoricalCrossentropy:
    """Keras's loss class; from_logits=True when the model's last layer has no softmax."""

    def __init__(self, from_logits=False, reduction="auto", name="sparse_categorical_crossentropy", **kwargs):
        if kwargs:
            raise TypeError(f"SparseCategoricalCrossentropy: keyword argument not understood: "
                            f"{', '.join(sorted(kwargs))}")
        if reduction not in ("auto", "sum_over_batch_size"):
            raise ValueError(f"SparseCategoricalCrossentropy: loom averages over the batch, got "
                             f"reduction={reduction!r}")
        self.from_logits = bool(from_logits)
        self.name = name

    def __call__(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits).mean()

    def __repr__(self):
        return f"SparseCategoricalCrossentropy(from_logits={self.from_logits})"


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Per-sample losses on NumPy arrays (what Keras's function computes); compile(loss=...) also takes it."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    labels = np.asarray(y_true).astype(np.int64).reshape(-1)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=axis, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    else:
        log_probs = np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return -log_probs.reshape(len(labels), -1)[np.arange(len(labels)), labels]


def from_logits_of(loss):
    """Whether `loss` (as compile takes it) is the cross-entropy from logits; a ValueError for any other loss."""
    if isinstance(loss, SparseCategoricalCrossentropy):
        return loss.from_logits
    if loss is sparse_categorical_crossentropy or loss == "sparse_categorical_crossentropy":
        return False
    raise ValueError(f"loss {loss!r} is not one loom has: use 'sparse_categorical_crossentropy' or "
                     "keras.losses.SparseCategoricalCrossentropy(from_logits=...)")


__all__ = ["SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"]
