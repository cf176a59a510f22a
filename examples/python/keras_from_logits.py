# The Fashion-MNIST basic classification written in the keras.io style
# (`from tensorflow import keras`, then `keras.` everywhere), with only the
# import changed so that it runs on loom: logits output, validation split,
# early stopping, and a weights save/load round trip.
#
# Run:  python3 examples/python/keras_from_logits.py
# Set LOOM_EXAMPLE_EPOCHS to override the default 10 epochs (e.g. for CI).

import os
import tempfile

import numpy as np

from loom import keras

EPOCHS = int(os.environ.get("LOOM_EXAMPLE_EPOCHS", "10"))

class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

(train_images, train_labels), (test_images, test_labels) = \
    keras.datasets.fashion_mnist.load_data()

train_images = train_images / 255.0
test_images = test_images / 255.0


def build_model():
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation='relu'),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    return model


model = build_model()

history = model.fit(
    train_images, train_labels,
    epochs=EPOCHS,
    validation_split=0.1,
    callbacks=[keras.callbacks.EarlyStopping(monitor='val_loss', patience=2,
                                             restore_best_weights=True)])

print(history.history.keys())
print('Last val_accuracy:', history.history['val_accuracy'][-1])

test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print('Test accuracy:', test_acc)

probability_model = keras.Sequential([model, keras.layers.Softmax()])

img = np.expand_dims(test_images[0], 0)
probs = probability_model.predict(img)
print(probs)
print('Predicted:', class_names[np.argmax(probs[0])],
      '  true:', class_names[test_labels[0]])

# Save the weights, load them into a freshly built model, compare outputs.
with tempfile.TemporaryDirectory() as tmpdir:
    path = os.path.join(tmpdir, 'mlp.safetensors')
    model.save_weights(path)

    reloaded = build_model()
    reloaded.load_weights(path)

original = model.predict(test_images[:100])
restored = reloaded.predict(test_images[:100])
print('Max difference after reload:', np.max(np.abs(original - restored)))
np.testing.assert_allclose(restored, original, rtol=1e-5, atol=1e-6)
print('Reloaded model matches the original.')
