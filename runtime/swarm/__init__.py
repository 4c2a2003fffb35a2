"""The Docker Swarm runtime: services, tasks, nodes, overlay networks, secrets and configs.

Role: a cluster runtime reached through a manager's Engine API (the Docker
transport, ``runtime.docker.transport``). ``spec`` holds the typed service
values, ``convert`` maps them to and from the API's ``ServiceSpec`` (the live
one normalised), ``engine`` is the API subset, ``driver`` the
``SwarmDriver`` the controller calls.
"""
