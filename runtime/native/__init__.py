"""The daemonless native runtime: images, root filesystems, processes and networks.

Role: everything ``--runtime native`` needs, without a container daemon.
``images``/``archive``/``unpack``/``distribution`` (image store, archives,
safe layer unpacking, registry pulls), ``driver`` (the ``Driver`` protocol on
crun/runc + overlayfs) and ``net`` (bridges, veths, ports). Neighbours:
``runtime.types`` and ``runtime.errors``; nothing here imports ``runtime.docker``.
"""
