"""Host-level settings the native runtime carries out beyond the contract suite.

``privileged`` (every capability the controller holds, the host's devices, no masked
paths, a writable ``/sys``: Docker refuses a privileged container on a host whose
bounding set lacks a capability, as this machine's may, so it is checked here), an
unknown device or group named with the fix, and an inspect that reports every field
as recorded (the records keep them across a controller restart). Neighbours:
``runtime.native.hostopts``, ``tests/contract/test_host_keys.py``.
"""

from __future__ import annotations

import os

import pytest

from runtime.errors import InvalidRequest
from runtime.native.driver import NativeDriver
from runtime.native.hostopts import host_caps
from runtime.types import DeviceSpec, ResourceSpec, UlimitSpec
from tests.native.conftest import NProject

pytestmark = pytest.mark.native


def _exec(p: NProject, short: str, script: str) -> str:
    result = p.driver.exec_in(p.n(short), ["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def test_privileged_gets_every_capability_the_host_devices_and_a_writable_sys(
        nproject: NProject) -> None:
    nproject.run("priv", privileged=True)
    script = ("ls /dev; grep CapEff /proc/self/status; grep ' /sys ' /proc/mounts; "
              "echo timer_list=$(wc -c < /proc/timer_list)")
    out = _exec(nproject, "priv", script)
    held = int(out.split("CapEff:")[1].split()[0], 16)
    assert bin(held).count("1") == len(host_caps())
    if os.path.exists("/dev/loop0"):
        assert "loop0" in out.split()
    assert out.split(" /sys sysfs ")[1].startswith("rw,")
    assert "timer_list=0" not in out  # not masked
    nproject.run("plain")
    assert "timer_list=0" in _exec(nproject, "plain", script)  # masked: /dev/null


def test_an_unknown_device_or_group_is_refused_with_the_fix(nproject: NProject) -> None:
    with pytest.raises(InvalidRequest, match="does not exist on this host"):
        nproject.run("nodev", devices=(DeviceSpec("/dev/nothere", "/dev/x"),))
    with pytest.raises(InvalidRequest, match="not in the image's /etc/group"):
        nproject.run("nogroup", group_add=("wheel",))


def test_inspect_reports_the_fields_as_recorded_after_a_restart(nproject: NProject) -> None:
    fields = dict(ulimits=(UlimitSpec("nofile", 100, 200),), sysctls=(("kernel.msgmax", "9"),),
                  tmpfs=(("/scratch", "size=1m"),), dns=("10.0.0.53",), init=True,
                  read_only=True, shm_size=1 << 20, expose=("8080/tcp",),
                  resources=ResourceSpec(cpu_shares=256, cpuset="0", memory_reservation=1 << 24))
    cid = nproject.run("rec", **fields)
    again = NativeDriver(state_dir=nproject.driver.state_dir)  # a restarted controller
    try:
        live = again.inspect_container(cid).config
    finally:
        again.close()
    for key, value in fields.items():
        assert getattr(live, key) == value, key
