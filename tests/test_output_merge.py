"""Consecutive OUTPUT messages already received come back from one output().

remctld sends output in 4 KiB messages; handing out what is already
buffered in one call saves a Python call per message when streaming. The
order of stdout, stderr and the status must not change, and nothing waits
for more data than has arrived.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
import remctl
from expected import stream_sha256

MESSAGE = 4096  # the size of remctld's OUTPUT messages


@pytest.mark.ours_only(
    reason="ours hands out consecutive buffered OUTPUT messages in one call"
)
def test_buffered_output_comes_in_larger_pieces(server: Any) -> None:
    size = 4 * 1024 * 1024
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        r.command(["test", "stream", str(size)])
        time.sleep(1)  # let the socket buffers fill: many messages are waiting
        digest = hashlib.sha256()
        pieces = []
        token = r.output()
        while token.type == "output":
            assert token.stream == 1
            assert token.data is not None
            digest.update(token.data)
            pieces.append(len(token.data))
            token = r.output()
        assert token.type == "status" and token.status == 0
    assert sum(pieces) == size
    assert digest.hexdigest() == stream_sha256(size)
    assert max(pieces) > 16 * MESSAGE
    assert len(pieces) < size // MESSAGE


def test_streams_and_status_keep_their_order(server: Any) -> None:
    with remctl.Remctl(server.host, server.port, server.principal) as r:
        for _ in range(3):
            r.command(["test", "mixed"])
            time.sleep(0.3)  # both messages and the status are buffered
            assert list(r.output()) == ["output", b"out\n", 1, None, None]
            assert list(r.output()) == ["output", b"err\n", 2, None, None]
            assert list(r.output()) == ["status", None, None, 3, None]
            assert r.output().type == "done"
