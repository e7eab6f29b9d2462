"""Reference encoder/decoder apps, codec backends, face analysis and generator models."""
