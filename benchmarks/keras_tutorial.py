"""The Fashion-MNIST tutorials' Keras models as their own code builds them (softmax last layer, `optimizer="adam"`,
`loss="sparse_categorical_crossentropy"`), for the scripts that compare loom's training with Keras's."""
import os


def import_keras():
    """TensorFlow and Keras 3 on its TensorFlow backend, on the CPU (these are CPU references, even on a GPU machine)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    import keras
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
