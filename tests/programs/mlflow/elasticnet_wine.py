"""Train an elastic net on a small wine-quality-like table and track it, in the style of
MLflow's sklearn_elasticnet_wine example (numpy only: a coordinate-descent elastic net,
so the program needs no scikit-learn). Usage: elasticnet_wine.py [alpha] [l1_ratio]"""

import sys
from pathlib import Path

import numpy as np

import gitruns.mlflow as mlflow


def make_data(seed: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(300, 6))
    weights = np.array([0.8, -0.5, 0.0, 0.3, 0.0, 1.2])
    quality = features @ weights + 5.5 + rng.normal(scale=0.4, size=300)
    return features, quality


def elastic_net(x: np.ndarray, y: np.ndarray, alpha: float, l1_ratio: float) -> np.ndarray:
    n, k = x.shape
    coef = np.zeros(k)
    intercept = y.mean()
    for _ in range(200):
        for j in range(k):
            residual = y - intercept - x @ coef + x[:, j] * coef[j]
            rho = x[:, j] @ residual / n
            shrunk = np.sign(rho) * max(abs(rho) - alpha * l1_ratio, 0.0)
            coef[j] = shrunk / ((x[:, j] @ x[:, j]) / n + alpha * (1 - l1_ratio))
    return np.concatenate([[intercept], coef])


def eval_metrics(actual: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    rmse = np.sqrt(np.mean((actual - pred) ** 2))
    mae = np.mean(np.abs(actual - pred))
    r2 = 1 - np.sum((actual - pred) ** 2) / np.sum((actual - actual.mean()) ** 2)
    return rmse, mae, r2


if __name__ == "__main__":
    alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    x, y = make_data()
    train_x, test_x, train_y, test_y = x[:225], x[225:], y[:225], y[225:]
    with mlflow.start_run():
        model = elastic_net(train_x, train_y, alpha, l1_ratio)
        predicted = model[0] + test_x @ model[1:]
        rmse, mae, r2 = eval_metrics(test_y, predicted)
        print(f"Elasticnet model (alpha={alpha:f}, l1_ratio={l1_ratio:f}):")
        print(f"  RMSE: {rmse}\n  MAE: {mae}\n  R2: {r2}")
        mlflow.log_param("alpha", alpha)
        mlflow.log_param("l1_ratio", l1_ratio)
        mlflow.log_param("data_path", Path("data") / "winequality-red.csv")
        mlflow.log_metric("rmse", rmse)
        mlflow.log_metric("r2", r2)
        mlflow.log_metric("mae", mae)
        np.save("coef.npy", model)
        mlflow.log_artifact("coef.npy", artifact_path="model")
        try:
            mlflow.sklearn.log_model(model, "model")
        except mlflow.MlflowException as error:
            print("log_model:", error)
