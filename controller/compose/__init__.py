"""Compose files -> spec files: the ``dockwright import`` room.

Role: reads docker-compose files the way docker-compose does (discovery, ``-f``
merging, ``.env`` and interpolation, ``extends``, profiles; ``source``,
``interpolate``, ``merge``), converts each service into a ``[container.*]``
table (``convert``, ``services``, ``storage``), writes readable TOML
(``emit``) after validating it with the real loader (``importer``). Only
``controller.commands`` uses it; it imports ``specs`` and
``controller.desired.naming`` and nothing above. Compose's own label names
live in ``labels`` (read by the adoption of a running compose project in
``controller.planning``).
"""
