"""Execution: run a plan's actions against a driver (apply, replace, waits) and one reconcile
pass."""
