# Follows the TensorFlow tutorial "Basic classification: Classify images of
# clothing" (Fashion-MNIST, a small fully connected network), with only the
# imports changed so that it runs on loom.  The tutorial's plots are replaced
# by printed text.
#
# Run:  python3 examples/python/mlp_basic_classification.py
# Set LOOM_EXAMPLE_EPOCHS to override the tutorial's 10 epochs (e.g. for CI).

import os

import numpy as np

import loom as tf

EPOCHS = int(os.environ.get("LOOM_EXAMPLE_EPOCHS", "10"))

print(tf.__version__)

fashion_mnist = tf.keras.datasets.fashion_mnist

(train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()

class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

print(train_images.shape, len(train_labels))
print(test_images.shape, len(test_labels))

train_images = train_images / 255.0
test_images = test_images / 255.0

model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10)
])

model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

model.fit(train_images, train_labels, epochs=EPOCHS)

test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)

print('\nTest accuracy:', test_acc)

probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])

predictions = probability_model.predict(test_images)

print(predictions[0])
print(np.argmax(predictions[0]))
print(test_labels[0])

# Text in place of the tutorial's image grid: predicted vs. true class.
for i in range(15):
    predicted_label = np.argmax(predictions[i])
    true_label = test_labels[i]
    print("{:2d}: predicted {:12s} {:3.0f}%  true {:12s} {}".format(
        i, class_names[predicted_label], 100 * np.max(predictions[i]),
        class_names[true_label],
        "ok" if predicted_label == true_label else "WRONG"))

# Use the trained model on a single image.
img = test_images[1]
print(img.shape)

img = (np.expand_dims(img, 0))
print(img.shape)

predictions_single = probability_model.predict(img)
print(predictions_single)

print(np.argmax(predictions_single[0]))
print(class_names[np.argmax(predictions_single[0])])
