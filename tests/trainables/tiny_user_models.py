"""Tiny user models, imported as "tiny_user_models:<function>" the way a sweep file names its own model."""

from __future__ import annotations

from typing import Any

from seqsweep.data.bundle import DataShape


def keras_model(config: dict[str, Any], shape: DataShape) -> Any:
    """Masking → flatten → Dense → (H, T, 3) softmax: an uncompiled keras.Model giving probabilities."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(shape.lookback, shape.n_features))
    x = layers.Masking(mask_value=-50.0)(inputs)
    x = layers.GRU(config["units"])(x)
    x = layers.Dense(shape.horizon * shape.n_targets * 3)(x)
    x = layers.Reshape((shape.horizon, shape.n_targets, 3))(x)
    return keras.Model(inputs, layers.Softmax(axis=-1)(x))


def torch_model(config: dict[str, Any], shape: DataShape) -> Any:
    """An MLP over the flattened window: a torch.nn.Module giving (H, T, 3) logits."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Flatten(),
                nn.Linear(shape.lookback * shape.n_features, config["units"]),
                nn.ReLU(),
                nn.Linear(config["units"], shape.horizon * shape.n_targets * 3),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.where(x == -50.0, torch.zeros_like(x), x)
            return self.body(x).view(-1, shape.horizon, shape.n_targets, 3)

    return Net()


def not_a_model(config: dict[str, Any], shape: DataShape) -> Any:
    return "nothing"


def wrong_output(config: dict[str, Any], shape: DataShape) -> Any:
    """A torch module whose output is not (H, T, 3)."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(shape.lookback * shape.n_features, 6))


def never_reports(config: dict[str, Any], data: Any, reporter: Any) -> None:
    """A training function (`trainable:`) that returns without calling `reporter.report`."""
    data.windows("train")


def reports_its_loss_only(config: dict[str, Any], data: Any, reporter: Any) -> None:
    """A training function that reports a loss but never the sweep's search metric."""
    import tempfile

    for _ in range(int(config.get("epochs", 2))):
        reporter.report({"val_loss": 1.0}, tempfile.mkdtemp(dir=config.get("folder")))


def config_only(config: dict[str, Any]) -> Any:
    """A model function that forgot `shape`: every trial would fail with a TypeError."""
    return None


def keyword_shape(config: dict[str, Any], *, shape: DataShape) -> Any:
    """`shape` keyword-only: the family passes it by position."""
    return None


def with_extras(config: dict[str, Any], shape: DataShape, scale: float = 1.0, *args: Any, **kw: Any) -> Any:
    """Extra arguments with defaults are fine."""
    return None


def reports_a_missing_checkpoint_dir(config: dict[str, Any], data: Any, reporter: Any) -> None:
    """Reports a checkpoint folder that does not exist (never made, or removed before the report)."""
    reporter.report({"val_macro_f1": 0.5}, "/nonexistent/seqsweep-test-checkpoint")
