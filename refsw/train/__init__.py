"""Training scripts of the models we train here (weights are committed with their command)."""
