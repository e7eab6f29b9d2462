"""Training of the learned GFV models (CPU, resumable) on the clips in ``../shared/data``."""
