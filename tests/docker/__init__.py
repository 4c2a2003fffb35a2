"""Tests of the Docker driver's own behaviour (beyond the shared contract suite)."""
