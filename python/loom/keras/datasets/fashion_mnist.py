"""Fashion-MNIST from the local files, never downloaded: ``$FASHION_MNIST_DIR``, else the folder the Debian/Ubuntu
package ``dataset-fashion-mnist`` installs (/usr/share/datasets/fashion-mnist)."""

from ... import _engine


def load_data():
    """((x_train, y_train), (x_test, y_test)): uint8 images (60000, 28, 28) and (10000, 28, 28), uint8 labels."""
    try:
        return _engine.fashion_mnist()
    except ValueError as e:  # the folder or a file is missing: the message says where it looked and what to install
        raise FileNotFoundError(str(e)) from None
