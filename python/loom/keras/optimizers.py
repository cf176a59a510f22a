"""Keras's optimizers that loom's engine has: Adam and SGD (``'adam'`` and ``'sgd'`` by name)."""

import json


def _positive(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


class Optimizer:
    _name = None

    def __init__(self, learning_rate):
        self.learning_rate = _positive(learning_rate, f"{self._name}'s learning_rate")

    def get_config(self):
        return {"learning_rate": self.learning_rate}

    def _entry(self):
        """The optimizer as the engine's architecture holds it."""
        return json.dumps(dict(name=self._name, **self.get_config()))

    def __repr__(self):
        return f"{self._name}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class Adam(Optimizer):
    """Keras's defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7 (float32 arithmetic, as Keras)."""

    _name = "Adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None,
                 **kwargs):
        if "lr" in kwargs:  # Keras 2's old spelling
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"Adam: keyword argument not understood: {', '.join(sorted(kwargs))}")
        super().__init__(learning_rate)
        for what, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
                raise ValueError(f"Adam's {what} must be a number in [0, 1), got {beta!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = _positive(epsilon, "Adam's epsilon")
        if amsgrad:
            raise ValueError("Adam: loom has no AMSGrad variant (amsgrad=True)")

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class SGD(Optimizer):
    """Plain stochastic gradient descent (learning_rate 0.01, as Keras's default); no momentum."""

    _name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"SGD: keyword argument not understood: {', '.join(sorted(kwargs))}")
        super().__init__(learning_rate)
        if momentum != 0 or nesterov:
            raise ValueError("SGD: loom's SGD has no momentum (momentum=0, nesterov=False)")


_BY_NAME = {"adam": Adam, "sgd": SGD}


def get(identifier):
    """An optimizer from a name ('adam', 'sgd') or an optimizer object, as compile takes it."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"optimizer {identifier!r} is not one loom has: use 'adam', 'sgd', or "
                     "keras.optimizers.Adam(...) / SGD(...)")


__all__ = ["Adam", "Optimizer", "SGD", "get"]
