# Follows Laurence Moroney's "Intro to computer vision" exercise (Fashion-MNIST,
# a dense network and a callback that stops training once the loss is low),
# with only the imports changed so that it runs on loom.
#
# Run:  python3 examples/python/mlp_callback_stop.py
# Set LOOM_EXAMPLE_EPOCHS to override the exercise's 5 epochs (e.g. for CI).

import os

import loom as tf

EPOCHS = int(os.environ.get("LOOM_EXAMPLE_EPOCHS", "5"))


class myCallback(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs={}):
        if(logs.get('loss')<0.4):
            print("\nLoss is low so cancelling training!")
            self.model.stop_training = True


callbacks = myCallback()

mnist = tf.keras.datasets.fashion_mnist
(training_images, training_labels), (test_images, test_labels) = mnist.load_data()

training_images = training_images / 255.0
test_images = test_images / 255.0

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(512, activation=tf.nn.relu),
    tf.keras.layers.Dense(10, activation=tf.nn.softmax)
])

model.compile(optimizer=tf.optimizers.Adam(),
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

model.fit(training_images, training_labels, epochs=EPOCHS, callbacks=[callbacks])

model.evaluate(test_images, test_labels)

classifications = model.predict(test_images)

print(classifications[0])
print(test_labels[0])
