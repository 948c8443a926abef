"""What `record` reads from /proc and /sys instead of importing psutil is what psutil
reads there: the machine's CPU counts and memory, the network byte counters."""

from __future__ import annotations

import sys

import psutil
import pytest

from gitruns.capture.environment import machine_counts
from gitruns.capture.resources import _net_counters, _proc_net_dev

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux readers")


def test_machine_counts_are_psutils() -> None:
    assert machine_counts() == (
        psutil.cpu_count(logical=True),
        psutil.cpu_count(logical=False),
        psutil.virtual_memory().total,
    )


def test_network_counters_are_psutils() -> None:
    before = _net_counters()
    net = psutil.net_io_counters()
    after = _net_counters()
    assert before is not None and after is not None
    assert before[0] <= net.bytes_sent <= after[0]
    assert before[1] <= net.bytes_recv <= after[1]


def test_proc_net_dev_sums_every_interface() -> None:
    text = (
        "Inter-|   Receive                            |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes ...\n"
        "    lo:  100 1 0 0 0 0 0 0  100 1 0 0 0 0 0 0\n"
        "  eth0: 5000 9 0 0 0 0 0 0 7000 8 0 0 0 0 0 0\n"
    )
    assert _proc_net_dev(text) == (7100, 5100)
