"""fit, evaluate and predict as the tutorials call them: their inputs, what they return and print, and the checks
that refuse bad data before any training."""

import numpy as np
import pytest

from conftest import tutorial_cnn, tutorial_mlp, weights_equal
from loom import keras


def test_fit_returns_keras_history_and_prints_through_sys_stdout(small, capsys):
    (x, y), _ = small
    model = tutorial_mlp()
    history = model.fit(x / 255.0, y, epochs=2)
    assert isinstance(history, keras.callbacks.History) and model.history is history
    assert history.epoch == [0, 1] and sorted(history.history) == ["accuracy", "loss"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.history["loss"][1] < history.history["loss"][0]
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "32/32 [" in out and "accuracy:" in out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_validation_split_and_data_give_val_keys(small):
    (x, y), (xt, yt) = small
    model = tutorial_mlp()
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    history = model.fit(x, y, epochs=1, validation_data=(xt, yt), verbose=0)
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    # The validation pass after the last epoch is evaluate on the same data with the same weights.
    assert history.history["val_loss"][0] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(accuracy, rel=1e-6)


def test_evaluate_and_predict(small, capsys):
    (x, y), (xt, yt) = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    result = model.evaluate(xt / 255.0, yt, verbose=2)
    assert isinstance(result, list) and len(result) == 2 and 0 < result[1] <= 1
    assert "16/16 - " in capsys.readouterr().out
    assert model.evaluate(xt, yt, verbose=0, return_dict=True) == {"loss": result[0], "accuracy": result[1]}
    logits = model.predict(xt / 255.0)
    assert logits.dtype == np.float32 and logits.shape == (512, 10)
    np.testing.assert_array_equal(model.predict(xt), logits)  # uint8 pixels are scaled as /255.0
    assert (logits.argmax(1) == yt).mean() == pytest.approx(result[1])
    one = model.predict(np.expand_dims(xt[3] / 255.0, 0))
    np.testing.assert_allclose(one[0], logits[3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="add the batch axis"):
        model.predict(xt[3])


def test_probability_model_shares_the_trained_weights(small):
    (x, y), (xt, _) = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    probability_model = keras.Sequential([model, keras.layers.Softmax()])
    probabilities = probability_model.predict(xt)
    np.testing.assert_allclose(probabilities, keras.activations.softmax(model.predict(xt)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    # Training the inner model again is seen by the outer one, and training the outer one by the inner one.
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_allclose(probability_model.predict(xt), keras.activations.softmax(model.predict(xt)),
                               rtol=1e-5, atol=1e-7)
    assert weights_equal(probability_model.get_weights(), model.get_weights())


def test_input_shape_from_the_first_batch(small):
    (x, y), _ = small
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(16, activation=keras.activations.relu),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.sparse_categorical_crossentropy,
                  metrics=["accuracy"])
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.input_shape == (None, 28, 28)


def test_floats_scaled_by_255_train_as_the_uint8_pixels(small):
    (x, y), _ = small
    a, b = tutorial_mlp(), tutorial_mlp()
    a.fit(x, y, epochs=1, verbose=0)
    b.fit(x / 255.0, y.astype(np.int64), epochs=1, verbose=0)
    assert weights_equal(a.get_weights(), b.get_weights())


def test_samples_are_reshaped_only_when_the_pixels_agree(small):
    (x, y), _ = small
    mlp = tutorial_mlp()
    mlp.fit(x.reshape(-1, 784), y, epochs=1, steps_per_epoch=2, verbose=0)  # (n, 784) for Flatten((28, 28))
    cnn = tutorial_cnn(filters=4, dense=8)
    cnn.fit(x / 255.0, y, epochs=1, steps_per_epoch=2, verbose=0)  # (n, 28, 28) for (28, 28, 1)
    assert cnn.predict(x[:3]).shape == (3, 10)
    with pytest.raises(ValueError, match=r"must be \(n, 28, 28, 1\)"):
        cnn.fit(x[:, :27, :27], y, epochs=1)


@pytest.mark.parametrize("bad_x, bad_y, message", [
    (lambda x: x.astype(np.float64), None, "holds 1.0 at index|holds 2.0 at index|pass the uint8 images"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x / 255.0), None, r"holds nan at index"),
    (lambda x: x.astype(str), None, "must hold numbers"),
    (lambda x: x.astype(np.int64) - 1, None, "pixels must lie in 0..255"),
    (None, lambda y: np.where(np.arange(len(y)) == 7, 10, y), "holds 10 at index 7; the model has 10 classes"),
    (None, lambda y: y[:-1], "holds 1023 labels for 1024 samples"),
    (None, lambda y: np.eye(10)[y], "one-hot"),
    (None, lambda y: y + 0.5, "not a class index"),
])
def test_bad_data_is_refused_before_training(small, bad_x, bad_y, message):
    (x, y), _ = small
    model = tutorial_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(bad_x(x) if bad_x else x, bad_y(y) if bad_y else y, epochs=1, verbose=0)
    assert weights_equal(before, model.get_weights())


def test_bad_arguments_are_refused(small):
    (x, y), _ = small
    model = tutorial_mlp()
    for kwargs, message in [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
                            ({"validation_split": 1.0}, "validation_split"), ({"verbose": 3}, "verbose"),
                            ({"class_weight": {0: 2.0}}, "class weights"), ({"initial_epoch": 2}, "initial_epoch"),
                            ({"validation_data": (x,)}, "pair"), ({"callbacks": [print]}, "Callback")]:
        with pytest.raises(ValueError, match=message):
            model.fit(x, y, **kwargs)
    with pytest.raises(ValueError, match="validation_split 0.9999 of 1024 samples leaves none to train on"):
        model.fit(x, y, validation_split=0.9999, verbose=0)


def test_weights_save_load_and_set(small, tmp_path):
    (x, y), (xt, _) = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "mlp.safetensors"
    model.save_weights(path)
    again = tutorial_mlp()
    assert not weights_equal(again.get_weights(), model.get_weights())
    again.load_weights(str(path))
    assert weights_equal(again.get_weights(), model.get_weights())
    np.testing.assert_array_equal(again.predict(xt), model.predict(xt))
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(784, 128), (128,), (128, 10), (10,)]  # Keras's layouts
    assert [name for name, _ in model.weights] == ["dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"]
    zeros = [np.zeros(s) for s in shapes]
    again.set_weights(zeros)
    assert np.all(again.predict(xt) == 0)
    with pytest.raises(ValueError, match="4 weights, got 1"):
        again.set_weights(zeros[:1])
    with pytest.raises(ValueError, match=r"dense.kernel' has shape \(784, 128\), got \(128, 784\)"):
        again.set_weights([np.zeros((128, 784))] + zeros[1:])
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)


def test_engine_failures_are_python_exceptions_with_the_engines_words(tmp_path):
    import loom
    model = tutorial_mlp()
    with pytest.raises(ValueError, match="nothing.safetensors': no such file"):
        model.load_weights(tmp_path / "nothing.safetensors")
    other = tutorial_mlp(units=64)
    other.save_weights(tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="holds another model"):
        model.load_weights(tmp_path / "other.safetensors")
    with pytest.raises(loom.EngineError, match="cannot write"):
        model.save_weights(tmp_path / "no" / "such" / "folder.safetensors")


def test_recompiling_keeps_the_weights_and_restarts_the_optimizer(small):
    (x, y), _ = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    trained = model.get_weights()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    assert weights_equal(model.get_weights(), trained)
    assert model.optimizer.learning_rate == 1e-4


def test_fitting_in_two_calls_trains_as_one(small):
    (x, y), _ = small
    once, twice = tutorial_mlp(), tutorial_mlp()
    once.fit(x, y, epochs=2, verbose=0)
    twice.fit(x, y, epochs=1, verbose=0)
    twice.fit(x, y, epochs=1, verbose=0)
    assert weights_equal(once.get_weights(), twice.get_weights())


def test_a_built_model_nested_in_another_is_usable_before_predict(small):
    (x, y), (xt, _) = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    probability_model = keras.Sequential([model, keras.layers.Softmax()])
    assert probability_model.input_shape == (None, 28, 28) and probability_model.count_params() == 101770
    assert weights_equal(probability_model.get_weights(), model.get_weights())


def test_training_the_outer_model_is_not_undone_by_reading_its_weights(small):
    (x, y), _ = small
    inner = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    outer = keras.Sequential([inner, keras.layers.Softmax()])
    outer.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    plain = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class ReadsWeights(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.get_weights()

    watched = outer.fit(x, y, epochs=3, verbose=0, callbacks=[ReadsWeights()])
    assert watched.history["loss"] == plain.fit(x, y, epochs=3, verbose=0).history["loss"]
    assert weights_equal(inner.get_weights(), plain.get_weights())


def test_integer_pixels_predict_as_they_train(small):
    (x, y), (xt, _) = small
    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(xt.astype(np.int64)), model.predict(xt))


def test_labels_are_bytes(small):
    (x, y), _ = small
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(300)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="300 classes"):
        model.fit(x, y, epochs=1, verbose=0)


def test_a_refused_first_batch_does_not_build_the_model(small):
    (x, y), (xt, _) = small
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="holds 10 labels for 1024 samples"):
        model.fit(x[:, :20], y[:10], epochs=1, verbose=0)
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.input_shape == (None, 28, 28)


def test_unknown_keywords_are_type_errors(small):
    (_, _), (xt, yt) = small
    model = tutorial_mlp()
    with pytest.raises(TypeError):
        model.evaluate(xt, yt, verbsoe=0)
    with pytest.raises(TypeError):
        model.predict(xt, batchsize=8)
    with pytest.raises(ValueError, match="sample weights"):
        model.evaluate(xt, yt, sample_weight=np.ones(len(yt)))
