"""Tests of the daemonless native runtime (``runtime.native``)."""
