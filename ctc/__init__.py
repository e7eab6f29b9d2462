"""Common test conditions (CTC) tooling of the GFV reference software: quality metrics, rate
and BD-rate evaluation of decoded sequences against their originals."""
