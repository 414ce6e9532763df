#!/usr/bin/env python3
"""UDP end points for tests/tools/test_udp_impair.sh (all on loopback).

  udp_peer.py echo --ready-file F --sources-file F
      Echo server on 127.0.0.1:0; writes its port to --ready-file, echoes every datagram to its
      sender, and on SIGTERM writes "datagrams=N ports=P1,P2,..." (distinct source ports in
      order of first appearance) to --sources-file, with "damaged=N", the datagrams whose
      CRC-32 did not match.

  udp_peer.py flood --port P [--count N] [--size S] [--window W] [--expire-ms E] [--drain-ms D]
      Sends N numbered datagrams with at most W awaiting an echo (one not echoed within E ms is
      given up); then waits until nothing arrived for D ms. Prints key=value results.

  udp_peer.py pingpong --port P [--count N] [--size S] [--timeout-ms T]
      One datagram at a time; prints RTT and how far each echo differs from what was sent.

  udp_peer.py timed --port P --t0 T --until S [--interval-ms I] [--ok A:B,..] [--lost A:B,..]
      Times are seconds on CLOCK_MONOTONIC relative to T (the relay's start_monotonic). Sends
      one datagram every I ms until time S, and counts the echoes of the datagrams sent in the
      --ok and --lost windows.

Each payload is an 8-byte sequence number, a fixed pseudo-random pattern and a CRC-32 of both,
so an echo can be checked byte for byte and the echo server can spot damage on the way up.
"""

import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import time
import zlib

PATTERN = random.Random(12345).randbytes(65536)


def payload(seq, size):
    head = struct.pack(">Q", seq) + PATTERN[: size - 12]
    return head + struct.pack(">I", zlib.crc32(head))


def well_formed(data):
    """The CRC-32 at the end matches (it catches every 1- and 2-bit change)."""
    return len(data) >= 12 and struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


def client_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def recv_all(sock):
    """Every datagram waiting now (ECONNREFUSED from a dead peer counts as none)."""
    out = []
    while True:
        try:
            out.append(sock.recv(65536))
        except (BlockingIOError, ConnectionRefusedError):
            return out


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def cmd_echo(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    ports = {}
    count = 0
    damaged = 0
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_atomic(args.ready_file, "%d\n" % sock.getsockname()[1])
    sock.settimeout(0.1)
    while not stop:
        try:
            data, addr = sock.recvfrom(65536)
        except (socket.timeout, InterruptedError, ConnectionRefusedError):
            continue
        count += 1
        if not well_formed(data):
            damaged += 1
        ports.setdefault(addr[1], 0)
        ports[addr[1]] += 1
        try:
            sock.sendto(data, addr)
        except OSError:
            pass
    write_atomic(args.sources_file,
                 "datagrams=%d damaged=%d ports=%s\n"
                 % (count, damaged, ",".join(str(p) for p in ports)))


def cmd_flood(args):
    sock = client_socket(args.port)
    expire = args.expire_ms / 1000.0
    outstanding = {}  # seq -> send time, insertion (= send) order
    copies = {}  # seq -> echoes received
    first_order = []  # seqs in order of their first echo
    intact = 0
    damaged = 0
    next_seq = 0
    start = time.monotonic()
    while next_seq < args.count or outstanding:
        while next_seq < args.count and len(outstanding) < args.window:
            try:
                sock.send(payload(next_seq, args.size))
            except (BlockingIOError, ConnectionRefusedError):
                break
            outstanding[next_seq] = time.monotonic()
            next_seq += 1
        select.select([sock], [], [], 0.005)
        for data in recv_all(sock):
            seq = struct.unpack(">Q", data[:8])[0] if len(data) >= 8 else -1
            if 0 <= seq < args.count and data == payload(seq, args.size):
                intact += 1
            else:
                damaged += 1
                continue
            if seq not in copies:
                first_order.append(seq)
                copies[seq] = 0
            copies[seq] += 1
            outstanding.pop(seq, None)
        now = time.monotonic()
        while outstanding:
            seq, sent = next(iter(outstanding.items()))
            if now - sent < expire:
                break
            del outstanding[seq]
    elapsed = time.monotonic() - start
    # Late echoes (duplicates, reordered ones) until the path is quiet.
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < args.drain_ms / 1000.0:
        select.select([sock], [], [], 0.01)
        got = recv_all(sock)
        if got:
            quiet_since = time.monotonic()
        for data in got:
            seq = struct.unpack(">Q", data[:8])[0] if len(data) >= 8 else -1
            if 0 <= seq < args.count and data == payload(seq, args.size):
                intact += 1
                if seq not in copies:
                    first_order.append(seq)
                    copies[seq] = 0
                copies[seq] += 1
            else:
                damaged += 1

    in_order = all(a < b for a, b in zip(first_order, first_order[1:]))
    inversions = sum(1 for a, b in zip(first_order, first_order[1:]) if a > b)
    # Runs of consecutive sequence numbers that never came back (bursts), ended by an echo.
    runs = []
    run = 0
    for seq in range(args.count):
        if seq in copies:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    gcd = 0
    for length in runs:
        a, b = gcd, length
        while b:
            a, b = b, a % b
        gcd = a
    counts = list(copies.values())
    print("sent=%d" % args.count)
    print("echoes=%d" % (intact + damaged))
    print("intact=%d" % intact)
    print("damaged=%d" % damaged)
    print("unique=%d" % len(copies))
    print("min_copies=%d" % (min(counts) if len(copies) == args.count else 0))
    print("max_copies=%d" % (max(counts) if counts else 0))
    print("in_order=%d" % int(in_order))
    print("inversions=%d" % inversions)
    print("missing_runs=%d" % len(runs))
    print("missing_run_gcd=%d" % gcd)
    print("seconds=%.3f" % elapsed)


def cmd_pingpong(args):
    sock = client_socket(args.port)
    rtts = []
    bits = []
    for seq in range(args.count):
        data = payload(seq, args.size)
        sent = time.monotonic()
        sock.send(data)
        echo = None
        while echo is None:
            left = args.timeout_ms / 1000.0 - (time.monotonic() - sent)
            if left <= 0:
                break
            select.select([sock], [], [], left)
            got = recv_all(sock)
            if got:
                echo = got[0]
        if echo is None:
            continue
        rtts.append((time.monotonic() - sent) * 1000.0)
        if len(echo) != len(data):
            bits.append(-1)
        else:
            bits.append(sum(bin(a ^ b).count("1") for a, b in zip(echo, data)))
    print("sent=%d" % args.count)
    print("echoes=%d" % len(rtts))
    print("rtt_min_ms=%.1f" % (min(rtts) if rtts else -1))
    print("rtt_max_ms=%.1f" % (max(rtts) if rtts else -1))
    print("rtt_distinct_ms=%d" % len(set(round(r) for r in rtts)))
    print("changed=%d" % sum(1 for b in bits if b != 0))
    print("bits_min=%d" % (min(bits) if bits else -1))
    print("bits_max=%d" % (max(bits) if bits else -1))


def windows(text):
    out = []
    for part in filter(None, text.split(",")):
        a, b = part.split(":")
        out.append((float(a), float(b)))
    return out


def cmd_timed(args):
    sock = client_socket(args.port)
    ok_windows = windows(args.ok)
    lost_windows = windows(args.lost)
    sent_at = []
    echoed = set()
    interval = args.interval_ms / 1000.0
    start = time.monotonic()
    seq = 0
    while time.monotonic() - args.t0 < args.until:
        due = start + seq * interval
        while True:
            now = time.monotonic()
            if now >= due:
                break
            select.select([sock], [], [], due - now)
            for data in recv_all(sock):
                echoed.add(struct.unpack(">Q", data[:8])[0])
        sent_at.append(time.monotonic() - args.t0)
        try:
            sock.send(payload(seq, args.size))
        except ConnectionRefusedError:
            pass
        seq += 1
    end = time.monotonic()
    while time.monotonic() - end < 0.3:
        select.select([sock], [], [], 0.05)
        for data in recv_all(sock):
            echoed.add(struct.unpack(">Q", data[:8])[0])

    def tally(wins):
        sent = [s for s, t in enumerate(sent_at) if any(a <= t < b for a, b in wins)]
        return len(sent), sum(1 for s in sent if s in echoed)

    ok_sent, ok_echoed = tally(ok_windows)
    lost_sent, lost_echoed = tally(lost_windows)
    print("sent=%d" % len(sent_at))
    print("echoes=%d" % len(echoed))
    print("ok_sent=%d" % ok_sent)
    print("ok_echoed=%d" % ok_echoed)
    print("lost_sent=%d" % lost_sent)
    print("lost_echoed=%d" % lost_echoed)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("echo")
    p.add_argument("--ready-file", required=True)
    p.add_argument("--sources-file", required=True)
    p = sub.add_parser("flood")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--expire-ms", type=float, default=50)
    p.add_argument("--drain-ms", type=float, default=200)
    p = sub.add_parser("pingpong")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--timeout-ms", type=float, default=2000)
    p = sub.add_parser("timed")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--t0", type=float, required=True)
    p.add_argument("--until", type=float, required=True)
    p.add_argument("--interval-ms", type=float, default=10)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--ok", default="")
    p.add_argument("--lost", default="")
    args = parser.parse_args()
    if getattr(args, "size", 12) < 12:
        parser.error("--size must be at least 12")
    {"echo": cmd_echo, "flood": cmd_flood, "pingpong": cmd_pingpong, "timed": cmd_timed}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
