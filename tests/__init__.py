"""dockwright's test suite (a package so that ``tests.images`` and friends import everywhere)."""
