"""Shared machinery of the Keras model plugins (not a plugin itself: no entry point).

`plugin.KerasModelPlugin` gives a network plugin its options, training loop, loading and
ONNX export; the other modules hold the pieces (tf.data input, augmentation, metrics,
callbacks, curves, pretrained bases). Modules that import TensorFlow are only imported
inside functions, so listing plugins stays fast.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on a machine without a GPU, CPU feature
# notes) is noise on a command line; ARTKIT_DEBUG=1 or an explicit setting shows it.
if os.environ.get("ARTKIT_DEBUG", "") in ("", "0"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
