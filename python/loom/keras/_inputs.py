"""The arrays users pass, checked and put in the form the engine reads, before any training starts.

Images reach the engine as uint8 pixels, which it scales by 1/255 on the device as the tutorials' ``images / 255.0``
does: uint8 arrays are taken as they are, and float arrays must hold such scaled pixels (each value k / 255, which is
what ``images / 255.0`` gives), converted back without loss. Labels become uint8 class indices.
"""

import numpy as np


def _sample_shape(x, sample_shape, what):
    """x reshaped to [n, *sample_shape]: equal shapes, or the same pixels with a channel axis of 1 added or
    dropped ((n, 28, 28) for (28, 28, 1)) or flattened ((n, 784) for (28, 28))."""
    if x.ndim == 0:
        raise ValueError(f"{what} must be an array of samples, got a scalar")
    got = tuple(x.shape[1:])
    if got == tuple(sample_shape):
        return x
    if len(x) and int(np.prod(got)) == int(np.prod(sample_shape)) and (
            [d for d in got if d != 1] == [d for d in sample_shape if d != 1] or len(got) == 1):
        return x.reshape((len(x),) + tuple(sample_shape))
    if got == tuple(sample_shape[1:]) or x.shape == tuple(sample_shape):
        raise ValueError(f"{what} has shape {x.shape}, one sample of the model's input {tuple(sample_shape)}: "
                         "add the batch axis, e.g. np.expand_dims(x, 0)")
    raise ValueError(f"{what} has shape {x.shape}; the model takes samples of shape {tuple(sample_shape)}, "
                     f"so {what} must be (n, {', '.join(map(str, sample_shape))})")


def as_array(x, what):
    try:
        array = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{what} cannot be read as an array: {e}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{what} must hold numbers, got an array of {array.dtype}")
    return array


def sample_shape_of(x, what="x"):
    """The shape of one sample of x, for a model that learns its input shape from the first data it sees."""
    array = as_array(x, what)
    if array.ndim < 2:
        raise ValueError(f"{what} has shape {array.shape}: give an array of samples, (n, ...)")
    return tuple(array.shape[1:])


def _first_bad(mask):
    index = np.argwhere(mask)[0]
    return tuple(int(i) for i in index)


# Pixel k as training sees it: k / 255 in float32, as the engine's gather and NumPy's float32(k / 255.0) both give.
_PIXEL_VALUES = np.arange(256, dtype=np.float32) / np.float32(255)
_CHUNK = 1 << 16  # elements converted at a time: the temporaries stay in the cache


def _scaled_pixels(array):
    """The uint8 pixels k whose k / 255 the float array holds (as float32), or None if any value is not one."""
    flat = np.ravel(array)
    out = np.empty(flat.shape, np.uint8)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start:start + _CHUNK]
        levels = np.rint(chunk * 255.0)
        if not ((levels >= 0) & (levels <= 255)).all():  # NaN fails both
            return None
        k = levels.astype(np.uint8)
        if not (_PIXEL_VALUES[k] == chunk.astype(np.float32)).all():
            return None
        out[start:start + _CHUNK] = k
    return out.reshape(array.shape)


def _why_not_scaled_pixels(array, what):
    finite = np.isfinite(array)
    if not finite.all():
        at = _first_bad(~finite)
        return f"{what} holds {array[at]} at index {at}"
    levels = np.clip(np.rint(array.astype(np.float64) * 255.0), 0, 255)
    exact = (array >= 0) & (array <= 1) & (_PIXEL_VALUES[levels.astype(np.uint8)] == array.astype(np.float32))
    at = _first_bad(~exact)
    return (f"{what} holds {array[at]!r} at index {at}: loom trains on images, as uint8 pixels or as pixels / 255.0 "
            "(floats k / 255 in [0, 1]); pass the uint8 images or divide them by 255.0")


def _samples(x, sample_shape, what):
    """x as an array [n >= 1, *sample_shape]; a ValueError otherwise."""
    array = _sample_shape(as_array(x, what), sample_shape, what)
    if len(array) == 0:
        raise ValueError(f"{what} holds no samples")
    return array


def pixels(x, sample_shape, what="x"):
    """x as C-contiguous uint8 [n, *sample_shape]; a ValueError naming what is wrong otherwise."""
    array = _samples(x, sample_shape, what)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if np.issubdtype(array.dtype, np.floating):
        converted = _scaled_pixels(array)
        if converted is None:
            raise ValueError(_why_not_scaled_pixels(array, what))
        return converted
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        outside = (array < 0) | (array > 255)
        if outside.any():
            at = _first_bad(outside)
            raise ValueError(f"{what} holds {array[at]} at index {at}: pixels must lie in 0..255")
        return np.ascontiguousarray(array.astype(np.uint8))
    raise ValueError(f"{what} must be uint8 pixels or float pixels / 255.0, got {array.dtype}")


def model_inputs(x, sample_shape, what="x"):
    """x for predict: uint8 pixels as they are, anything else as float32 values the model takes directly."""
    array = _samples(x, sample_shape, what)
    if array.dtype == np.uint8 or np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return pixels(array, sample_shape, what)  # pixels, scaled by 1/255 as fit and evaluate scale them
    values = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        at = _first_bad(~finite)
        raise ValueError(f"{what} holds {values[at]} at index {at}")
    return values


def labels(y, samples, classes, what="y"):
    """y as uint8 class indices [samples]; a ValueError naming what is wrong otherwise."""
    if y is None:
        raise ValueError(f"{what} is missing: fit and evaluate need the labels")
    if classes > 256:
        raise ValueError(f"the model has {classes} classes; loom's labels are bytes, so at most 256")
    array = as_array(y, what)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        hint = " (one-hot labels need categorical_crossentropy, which loom does not have)" if array.ndim == 2 else ""
        raise ValueError(f"{what} has shape {array.shape}; sparse labels are one class index per sample, (n,){hint}")
    if len(array) != samples:
        raise ValueError(f"{what} holds {len(array)} labels for {samples} samples")
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            raise ValueError(f"{what} holds {array[_first_bad(~finite)]} at index {_first_bad(~finite)[0]}")
        whole = array == np.floor(array)
        if not whole.all():
            at = _first_bad(~whole)[0]
            raise ValueError(f"{what} holds {array[at]} at index {at}, not a class index")
    outside = (array < 0) | (array >= classes)
    if outside.any():
        at = _first_bad(outside)[0]
        raise ValueError(f"{what} holds {array[at]} at index {at}; the model has {classes} classes, 0 to {classes - 1}")
    return np.ascontiguousarray(array.astype(np.uint8))
