"""Networking of the native runtime (pyroute2 + nftables), owned by ``NetworkManager``.

Modules: ``manager`` (the API the native driver uses), ``bridge`` (the
per-network layout beside Docker), ``netns`` (named namespaces without
forking), ``links`` (typed netlink adapter), ``ipam`` (persistent addresses),
``hosts`` (/etc/hosts and resolv.conf text), ``ports`` + ``proxy`` (published
ports), ``store`` (state files and locks).
"""

from runtime.native.net.manager import NetworkManager

__all__ = ["NetworkManager"]
