"""Per-epoch training metrics, the ones the seed paper plotted for each task.

Multi-class: top-1 and top-5 accuracy, precision, recall, ROC AUC. Multi-label: F2 at the
0.5 threshold averaged per sample (the iMet competition metric, which Keras does not have),
ROC AUC, precision and recall.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="artkit")
class SampleFBeta(keras.metrics.Metric):
    """F-beta of each sample's thresholded labels, averaged over samples (iMet's F2).

    A sample with no true and no predicted label scores 0, as scikit-learn's
    ``fbeta_score(average="samples", zero_division=0)`` does."""

    def __init__(self, beta: float = 2.0, threshold: float = 0.5, name: str = "f2",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = float(beta)
        self.threshold = float(threshold)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(ops.greater_equal(y_pred, self.threshold), "float32")
        tp = ops.sum(y_true * y_pred, axis=-1)
        fp = ops.sum((1.0 - y_true) * y_pred, axis=-1)
        fn = ops.sum(y_true * (1.0 - y_pred), axis=-1)
        b2 = self.beta ** 2
        denominator = (1.0 + b2) * tp + b2 * fn + fp
        score = ops.where(denominator > 0, (1.0 + b2) * tp / ops.maximum(denominator, 1e-12),
                          0.0)
        self.total.assign_add(ops.sum(score))
        self.count.assign_add(ops.cast(ops.shape(score)[0], "float32"))

    def result(self):
        return ops.where(self.count > 0, self.total / ops.maximum(self.count, 1.0), 0.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "threshold": self.threshold}


def training_metrics(task: str, n_labels: int) -> list[keras.metrics.Metric]:
    if task == "multilabel":
        return [SampleFBeta(beta=2.0, threshold=0.5, name="f2"),
                keras.metrics.AUC(name="auc"),
                keras.metrics.Precision(name="precision"),
                keras.metrics.Recall(name="recall")]
    return [keras.metrics.CategoricalAccuracy(name="top1"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, n_labels), name="top5"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
            keras.metrics.AUC(name="auc")]


def compile_model(model: keras.Model, task: str, n_labels: int, options: dict) -> None:
    """Adam with the run's hyper-parameters, and the loss that matches the output layer."""
    optimizer = keras.optimizers.Adam(learning_rate=options["lr"], beta_1=options["beta1"],
                                      beta_2=options["beta2"], epsilon=options["eps"])
    loss = "binary_crossentropy" if task == "multilabel" else "categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=training_metrics(task, n_labels))
