# Follows the "Improving computer vision accuracy using convolutions" exercise
# (Fashion-MNIST with two Conv2D/MaxPooling2D blocks), with only the imports
# changed so that it runs on loom.
#
# Run:  python3 examples/python/cnn_convolutions.py
# Set LOOM_EXAMPLE_EPOCHS to override the exercise's 5 epochs (e.g. for CI).

import os

import loom as tf

EPOCHS = int(os.environ.get("LOOM_EXAMPLE_EPOCHS", "5"))

print(tf.__version__)

mnist = tf.keras.datasets.fashion_mnist
(training_images, training_labels), (test_images, test_labels) = mnist.load_data()

training_images=training_images.reshape(60000, 28, 28, 1)
training_images=training_images / 255.0
test_images = test_images.reshape(10000, 28, 28, 1)
test_images=test_images/255.0

model = tf.keras.models.Sequential([
  tf.keras.layers.Conv2D(64, (3,3), activation='relu', input_shape=(28, 28, 1)),
  tf.keras.layers.MaxPooling2D(2, 2),
  tf.keras.layers.Conv2D(64, (3,3), activation='relu'),
  tf.keras.layers.MaxPooling2D(2,2),
  tf.keras.layers.Flatten(),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dense(10, activation='softmax')
])

model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.summary()

model.fit(training_images, training_labels, epochs=EPOCHS)

test_loss = model.evaluate(test_images, test_labels)

print('Test accuracy:', test_loss[1])
