"""Shared plumbing used by every entry script: config, envs, rollouts, demonstrations,
checkpoints and logging. Written once here so no script copies a loop."""

import os

# Keep TensorFlow's C++ start-up chatter (CUDA probing, CPU features) out of users' terminals.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
