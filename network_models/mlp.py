"""Multilayer perceptron (tanh or ReLU hidden layers) as a tf.Module, plus a numpy forward pass
of the same weights.

Plain tf.Variables rather than Keras layers: under a compiled update this halves the cost of a
gradient step at these sizes (measured: 0.41 vs 0.83 ms per 256-pair PPO minibatch).

The numpy pass exists for speed too: acting in a rollout calls the policy once per env step,
and a compiled TensorFlow call costs ~0.5 ms of dispatch while the same 64x64 forward pass in
numpy costs ~0.01 ms. Training always runs in TensorFlow; the numpy copy is refreshed once per
rollout.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

NumpyWeights = list[tuple[np.ndarray, np.ndarray]]

# Hidden-layer nonlinearities, in TensorFlow and in numpy. tanh is CleanRL's choice and the
# default; ReLU is rl-baselines3-zoo's for its tuned MuJoCo experts.
ACTIVATIONS = {"tanh": (tf.tanh, np.tanh), "relu": (tf.nn.relu, lambda x: np.maximum(x, 0.0))}


class MLP(tf.Module):
    """Dense layers with ``activation`` on all but the last; orthogonal init (gain sqrt 2, then
    output_gain)."""

    def __init__(self, input_dim: int, hidden_sizes: tuple[int, ...], output_dim: int, output_gain: float,
                 seed: int, name: str, activation: str = "tanh") -> None:
        super().__init__(name=name)
        self.activation = activation  # a name of ACTIVATIONS, also what the numpy snapshot applies
        sizes = [input_dim, *hidden_sizes, output_dim]
        gains = [math.sqrt(2.0)] * len(hidden_sizes) + [output_gain]
        self.kernels = []
        self.biases = []
        with self.name_scope:  # variable names like "policy/kernel_0", for error messages
            for index, (fan_in, fan_out, gain) in enumerate(zip(sizes[:-1], sizes[1:], gains)):
                initializer = keras.initializers.Orthogonal(gain=gain, seed=seed + index)
                self.kernels.append(tf.Variable(initializer((fan_in, fan_out)), name=f"kernel_{index}"))
                self.biases.append(tf.Variable(tf.zeros(fan_out), name=f"bias_{index}"))

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        """inputs [B, input_dim] float32 -> outputs [B, output_dim] float32."""
        activate = ACTIVATIONS[self.activation][0]
        hidden = inputs
        for kernel, bias in zip(self.kernels[:-1], self.biases[:-1]):
            hidden = activate(hidden @ kernel + bias)
        return hidden @ self.kernels[-1] + self.biases[-1]

    def numpy_weights(self) -> NumpyWeights:
        """(kernel, bias) pairs copied out of TensorFlow, for ``numpy_mlp_forward``."""
        return [(kernel.numpy(), bias.numpy()) for kernel, bias in zip(self.kernels, self.biases)]


def numpy_mlp_forward(weights: NumpyWeights, inputs: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Same maths as ``MLP.__call__``. inputs [B, input_dim] float32."""
    activate = ACTIVATIONS[activation][1]
    hidden = inputs
    for kernel, bias in weights[:-1]:
        hidden = activate(hidden @ kernel + bias)
    kernel, bias = weights[-1]
    return hidden @ kernel + bias
