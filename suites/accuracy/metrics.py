"""Test metrics of the tabular protocols, from scikit-learn (spec §3.4 names, plus ROC-AUC).

Regression: RMSE, MAE, R2. Binary classification: accuracy, macro-F1 and ROC-AUC (from the
positive class's probability; the original ActMix code computes no AUC, neuronbench reports it).
"""

from __future__ import annotations

import numpy as np

REGRESSION = ("rmse", "mae", "r2")
CLASSIFICATION = ("accuracy", "macro_f1", "roc_auc")


def regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true, y_pred = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    return {"rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "r2": float(r2_score(y_true, y_pred))}


def classification(y_true: np.ndarray, positive_probability: np.ndarray) -> dict[str, float]:
    """Binary metrics; the predicted class is probability >= 0.5."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y_true = np.asarray(y_true).ravel()
    p = np.asarray(positive_probability, np.float64).ravel()
    if y_true.shape != p.shape:
        raise ValueError(f"{y_true.shape[0]} labels for {p.shape[0]} probabilities")
    predicted = (p >= 0.5).astype(y_true.dtype)
    return {"accuracy": float(accuracy_score(y_true, predicted)),
            "macro_f1": float(f1_score(y_true, predicted, average="macro")),
            "roc_auc": float(roc_auc_score(y_true, p))}


def for_task(task: str, y_true: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """The task's metrics: ``prediction`` is the value (regression) or P(class 1)."""
    if task == "regression":
        return regression(y_true, prediction)
    if task == "classification":
        return classification(y_true, prediction)
    raise ValueError(f"unknown task {task!r}")
