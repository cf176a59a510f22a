"""The Fashion-MNIST tutorials' Keras models as their own code builds them (softmax last layer, `optimizer="adam"`,
`loss="sparse_categorical_crossentropy"`), for the scripts that compare loom's training with Keras's."""
import os


def import_keras(threads=0):
    """TensorFlow and Keras 3 on its TensorFlow backend, on the CPU (these are CPU references, even on a GPU machine),
    with `threads` intra-op threads and one inter-op thread when threads > 0 (sized before any op runs; the models
    are chains of ops, so more inter-op threads would only compete for the same cores); 0: TensorFlow's own pools.
    Raises ImportError when TensorFlow or Keras is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"  # Keras 3 could otherwise run on JAX or PyTorch
    import tensorflow as tf
    import keras
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.set_visible_devices([], "GPU")
    return tf, keras


def tutorial_model(keras, name):
    """The MLP (Flatten, Dense(128, relu), Dense(10, softmax)) or the CNN (Conv2D(64, 3x3, relu), MaxPooling2D(2, 2),
    twice, then Flatten, Dense(128, relu), Dense(10, softmax)), compiled as the tutorials compile it."""
    if name == "mlp":
        layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                  keras.layers.Dense(10, activation="softmax")]
    else:
        layers = [keras.Input((28, 28, 1)),
                  keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D(2, 2),
                  keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D(2, 2),
                  keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                  keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
