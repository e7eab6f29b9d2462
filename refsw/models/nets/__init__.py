"""torch networks of the learned GFV models (FOMM, CFTE/CTTR, FV2V) and their building blocks."""
