#!/usr/bin/env python3
"""Sends one crafted UDP datagram to the gateway and checks what comes back.

  udp_poke.py PORT vn      a 1200-byte long-header packet with an unknown version: expect
                           a Version Negotiation packet listing QUIC v1 (RFC 9000 17.2.1)
  udp_poke.py PORT vn-small  the same at 100 bytes: expect silence (RFC 9000 6.1)
  udp_poke.py PORT reset   a 100-byte short-header packet for an unknown connection ID:
                           expect a stateless reset, shorter than 100 bytes (RFC 9000 10.3)
Prints one line and exits 0 when the expectation holds, 1 otherwise.
"""
import os
import socket
import struct
import sys

port, what = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
dcid, scid = os.urandom(8), os.urandom(8)
if what.startswith("vn"):
    size = 1200 if what == "vn" else 100
    pkt = bytes([0xC0]) + struct.pack(">I", 0x1A2A3A4A) + bytes([8]) + dcid + bytes([8]) + scid
    pkt += os.urandom(size - len(pkt))
else:
    pkt = bytes([0x40 | 0x01]) + os.urandom(18) + os.urandom(100 - 19)
s.sendto(pkt, ("127.0.0.1", port))
try:
    data, _ = s.recvfrom(65536)
except socket.timeout:
    data = None

if what == "vn":
    if not data or data[0] & 0x80 == 0 or data[1:5] != b"\0\0\0\0":
        sys.exit("no version negotiation: %r" % (data,))
    dl = data[5]
    got_dcid = data[6:6 + dl]
    sl = data[6 + dl]
    got_scid = data[7 + dl:7 + dl + sl]
    versions = [struct.unpack(">I", data[i:i + 4])[0] for i in range(7 + dl + sl, len(data), 4)]
    if got_dcid != scid or got_scid != dcid or 1 not in versions:
        sys.exit("bad version negotiation: %r" % (data,))
    print("version negotiation: versions %s" % " ".join("0x%08x" % v for v in versions))
elif what == "vn-small":
    if data is not None:
        sys.exit("answered a small datagram: %r" % (data,))
    print("small datagram ignored")
else:
    if not data or data[0] & 0xC0 != 0x40 or not 21 <= len(data) < len(pkt):
        sys.exit("no stateless reset: %r" % (data,))
    print("stateless reset: %d bytes" % len(data))
