#!/usr/bin/env python3
"""A UDP peer that is not QUIC, for test_quic_certs.sh.

Usage: udp_junk.py MODE PORT_FILE

Binds 127.0.0.1 on a free UDP port (written to PORT_FILE once bound) and, for every datagram:
  garbage   answers with as many random bytes (at least 1200), twice
  silent    answers nothing (a port that swallows packets, like a firewall that drops them)
Counts the datagrams it got and writes "received N" to stderr at exit (SIGTERM).
"""

import os
import signal
import socket
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("garbage", "silent"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, port_file = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(port_file + ".tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    received = 0

    def stop(signum, frame):
        print("received %d" % received, file=sys.stderr, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        data, peer = s.recvfrom(65536)
        received += 1
        if mode == "garbage":
            for _ in range(2):
                s.sendto(os.urandom(max(1200, len(data))), peer)


if __name__ == "__main__":
    sys.exit(main())
