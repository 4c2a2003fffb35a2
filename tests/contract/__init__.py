"""The driver contract suite: one set of tests every runtime driver must pass."""
