"""Shared machinery of the Keras model plugins (not a plugin itself: no entry point).

`plugin.KerasModelPlugin` gives a network plugin its options, training loop, loading and
ONNX export; the other modules hold the pieces (tf.data input, augmentation, metrics,
callbacks, curves, pretrained bases). Modules that import TensorFlow are only imported
inside functions, so listing plugins stays fast.
"""
