"""Reproducibility: one seed fixes TensorFlow, Keras, numpy and Python randomness on CPU."""

from __future__ import annotations

import keras
import tensorflow as tf


def seed_everything(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    # Deterministic kernels: the same seed gives bit-identical weights run after run.
    tf.config.experimental.enable_op_determinism()
