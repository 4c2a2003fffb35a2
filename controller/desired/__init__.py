"""Desired state: spec files to a normalised, hashed desired state (loading, recipe, snapshot,
realisation, hashing)."""
