"""Start listing the runtime early, while the rest of the program is still loading.

Role: a read-only pass (``diff``, ``status``) needs the three unfiltered lists
(containers, volumes, networks) whatever the specs say, and their answers take
the daemon tens of milliseconds for a few hundred containers. :class:`Listing`
fetches them in a background thread started right after the driver is opened,
so that the wait overlaps importing and loading the specs. ``observe`` takes
the result in place of its own list calls; an error (e.g. ``Unavailable``) is
raised there, where the list calls would have raised it. Never used for
``apply``: its observation must come after the project lock is taken.
Neighbours: ``controller.commands.converge`` (starts it),
``controller.execution.reconcile.prepare`` and ``controller.planning.observe.observe`` (consume it).
Imports nothing heavy: starting it must not wait for the spec models.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.driver import Driver
    from runtime.types import ContainerSummary, NetworkInfo, VolumeInfo

    Lists = tuple[list[ContainerSummary], list[VolumeInfo], list[NetworkInfo]]


class Listing:
    """``list_containers``, ``list_volumes`` and ``list_networks`` (all, unfiltered)."""

    def __init__(self, driver: Driver) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        thread = threading.Thread(target=self._run, args=(driver,), name="dw-listing",
                                  daemon=True)
        thread.start()

    def _run(self, driver: Driver) -> None:
        try:
            self._value = (driver.list_containers(None), driver.list_volumes(None),
                           driver.list_networks(None))
        except BaseException as exc:  # handed to the consumer, raised there
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Lists:
        """The three lists; raises what the driver raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        value: Lists = self._value
        return value
