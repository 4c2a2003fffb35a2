"""The labels docker-compose puts on what it creates (read, never written).

Role: the names the importer and the adoption of a running compose project
(``controller.planning.adoption``) share. Pure constants.
"""

from __future__ import annotations

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
ONEOFF = "com.docker.compose.oneoff"  # "True" on `docker-compose run` containers
PREFIX = "com.docker.compose."
