"""Networks: the actor-critic policy (with a swappable action head) and the discriminator."""

import os

# Keep TensorFlow's C++ start-up chatter (CUDA probing, CPU features) out of users' terminals.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
