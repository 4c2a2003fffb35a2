"""Small stdlib-only helpers every package may use (``controller``, ``specs``, ``runtime``).

Role: the one place for file-system mechanics several layers need: atomic writes
with one fsync policy (:mod:`dwutil.atomic`), an exclusive inter-process lock
(:mod:`dwutil.lock`) and Docker's ``.dockerignore`` rules (:mod:`dwutil.dockerignore`).
It imports none of the three packages (``tests/test_layering.py`` checks it).
"""
