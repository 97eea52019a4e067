"""The two heads on embeddings, fitted and scored in numpy / scikit-learn.

`linear-probe`: logistic regression on standardised embeddings, softmax over the classes
(multi-class) or one sigmoid per label (multi-label); the standardisation is folded into
the weights, so the head is one affine map ``x @ W + b``.

`knn`: cosine similarity to the L2-normalised training embeddings; the scores are the
weighted votes of the k most similar training images (uniform or by similarity), over
classes (multi-class, summing to 1) or per label (multi-label: the weighted share of the
neighbours holding it). k and the weighting are chosen on the validation images.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

C_GRID = (0.01, 0.1, 1.0, 10.0)
K_GRID = (1, 3, 5, 7, 9, 15, 21)
WEIGHTINGS = ("uniform", "similarity")
#: L-BFGS iterations of the multi-label probe (per C): on nearly separable rare labels the
#: exact optimum takes thousands (tens of seconds for 426 labels). On aic-museum 100 gave
#: the same validation average precision as 300 (0.7903 vs 0.7904, last-block embedding);
#: warm-started along the C path, 60 give the same as 100 at the chosen C (0.8073 vs
#: 0.8072, 3-stage embedding) in 0.55-0.8 of the time; 40 lose 0.002
MAX_ITER = 60
#: the bias of a class (label) absent from the training images: its score is ~0
ABSENT_BIAS = -30.0


def selection_score(task: str, targets: np.ndarray, scores: np.ndarray) -> float:
    """What a head's hyper-parameters are chosen by on validation: macro F1 (multi-class),
    micro average precision (multi-label)."""
    from sklearn.metrics import average_precision_score, f1_score

    if task == "multiclass":
        return float(f1_score(targets, scores.argmax(axis=1), average="macro",
                              labels=np.arange(scores.shape[1]), zero_division=0))
    if 0 < targets.sum() < targets.size:
        return float(average_precision_score(targets.ravel(), scores.ravel()))
    return 0.0


# -- linear probe --------------------------------------------------------------------------
@dataclass
class LinearHead:
    weight: np.ndarray  # (D, K)
    bias: np.ndarray  # (K,)
    task: str

    def scores(self, x: np.ndarray) -> np.ndarray:
        logits = np.asarray(x, np.float64) @ self.weight + self.bias
        if self.task == "multilabel":
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_linear(x: np.ndarray, targets: np.ndarray, task: str, n_labels: int, c: float,
               seed: int = 0) -> LinearHead:
    return next(fit_linear_path(x, targets, task, n_labels, (c,), seed))[1]


def fit_linear_path(x: np.ndarray, targets: np.ndarray, task: str, n_labels: int,
                    cs: Sequence[float], seed: int = 0) -> Iterator[tuple[float, LinearHead]]:
    """(C, head) for each C of `cs`, in that order. The multi-label fits are warm-started
    from the previous C's solution (the regularisation path): with C ascending each fit
    starts near its optimum and needs fewer iterations (MAX_ITER)."""
    x = np.asarray(x, np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    start: np.ndarray | None = None
    for c in cs:
        weight = np.zeros((x.shape[1], n_labels))
        bias = np.full(n_labels, ABSENT_BIAS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs ConvergenceWarning on tiny sets
            if task == "multiclass":
                _fit_softmax(z, targets, c, seed, weight, bias)
            else:
                positives = targets.sum(axis=0)
                usable = np.flatnonzero((positives > 0) & (positives < len(targets)))
                bias[positives == len(targets)] = -ABSENT_BIAS
                if len(usable):
                    weight[:, usable], bias[usable], start = fit_sigmoids(
                        z, targets[:, usable], c, start)
        # fold the standardisation in: ((x - m) / s) @ W + b = x @ (W / s) + (b - (m / s) @ W)
        folded = weight / std[:, None]
        yield c, LinearHead(folded.astype(np.float32),
                            (bias - (mean / std) @ weight).astype(np.float32), task)


def _fit_softmax(z: np.ndarray, targets: np.ndarray, c: float, seed: int,
                 weight: np.ndarray, bias: np.ndarray) -> None:
    """scikit-learn's multinomial logistic regression, into the columns of the classes
    present (the others keep weight 0 and ABSENT_BIAS)."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(targets)
    if len(present) == 1:
        bias[present[0]] = 0.0
        return
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(z, targets)
    coef = model.coef_ if len(present) > 2 else np.vstack([-model.coef_[0] / 2,
                                                           model.coef_[0] / 2])
    intercept = model.intercept_ if len(present) > 2 else np.array(
        [-model.intercept_[0] / 2, model.intercept_[0] / 2])
    weight[:, present], bias[present] = coef.T, intercept


def fit_sigmoids(z: np.ndarray, y: np.ndarray, c: float, start: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One L2-regularised logistic regression per column of `y`, all at once: minimises
    scikit-learn's objective ``C * sum(log loss) + |w|^2 / 2`` (bias not penalised) for
    every label with one L-BFGS over the stacked weights (the problems are independent, so
    the sum is minimised where each is), from `start` (a previous solution) or zero.
    Returns (weight (D, L), bias (L,), the solution to start the next C from)."""
    from scipy.optimize import minimize

    n, d = z.shape
    labels = y.shape[1]
    y = np.asarray(y, np.float64)
    design = np.hstack([z, np.ones((n, 1))])

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        params = flat.reshape(d + 1, labels)
        logits = design @ params
        # log(1 + e^x) - y x, stably
        loss = np.logaddexp(0.0, logits) - y * logits
        # divided by C * n (the same minimum): the bias is then as well scaled as the weights
        gradient = design.T @ (1.0 / (1.0 + np.exp(-logits)) - y) / n
        gradient[:d] += params[:d] / (c * n)
        value = (loss.sum() + 0.5 * float((params[:d] ** 2).sum()) / c) / n
        return value, gradient.ravel()

    initial = start if start is not None else np.zeros((d + 1) * labels)
    result = minimize(objective, initial, jac=True, method="L-BFGS-B",
                      options={"maxiter": MAX_ITER, "gtol": 1e-4})
    params = result.x.reshape(d + 1, labels)
    return params[:d], params[d], result.x


# -- kNN -----------------------------------------------------------------------------------
def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class KnnHead:
    bank: np.ndarray  # (N, D) L2-normalised training embeddings
    votes: np.ndarray  # (N, K) one-hot classes or 0/1 labels, float32
    k: int
    weighting: str
    task: str

    def scores(self, x: np.ndarray) -> np.ndarray:
        similarity = l2_normalise(x) @ self.bank.T
        k = min(self.k, len(self.bank))
        top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        nearest = np.take_along_axis(similarity, top, axis=1)
        weights = (np.ones_like(nearest) if self.weighting == "uniform"
                   else np.maximum(nearest, 1e-6))
        total = np.einsum("nk,nkc->nc", weights, self.votes[top])
        return (total / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def knn_votes(targets: np.ndarray, task: str, n_labels: int) -> np.ndarray:
    if task == "multiclass":
        return np.eye(n_labels, dtype=np.float32)[np.asarray(targets, np.int64)]
    return np.asarray(targets, np.float32)
