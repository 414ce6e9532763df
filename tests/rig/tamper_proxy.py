#!/usr/bin/env python3
"""A TCP relay between the client and the test Samba that tampers with one server response.

Usage: tamper_proxy.py LISTEN_PORT_FILE TARGET_PORT MODE LOG

Listens on a free 127.0.0.1 port (written to LISTEN_PORT_FILE once listening), relays every
connection to 127.0.0.1:TARGET_PORT, and changes exactly one server->client SMB2 message (the
first that matches MODE), then relays the rest unchanged. Each change is written to LOG as a line
starting with "tampered:", so a test can prove the tampering happened.

MODES
  none               relay unchanged (a control: the relay itself is transparent)
  flip-data          first frame of 64 KiB or more (a READ response, plain or encrypted):
                     flip the last byte (signed data no longer matches its signature; encrypted
                     data no longer authenticates)
  flip-signature-N   first plain response to command N with the SIGNED flag, alone or in a
                     compound: flip a signature byte
  flip-negotiate-guid  the NEGOTIATE response: flip a byte of the ServerGuid (SMB 3.1.1
                     pre-authentication integrity, or 3.0.x VALIDATE_NEGOTIATE_INFO, must notice)
  strip-signature-N  first plain response to command N with the SIGNED flag, alone or in a
                     compound: clear the flag and zero the signature (a man in the middle
                     removing protection)
Commands: 1 SESSION_SETUP, 3 TREE_CONNECT, 5 CREATE, 8 READ, 9 WRITE, 14 QUERY_DIRECTORY.
"""

import os
import socket
import struct
import sys
import threading

SMB2_MAGIC = b"\xfeSMB"
SIGNED = 0x00000008

lock = threading.Lock()
done = False


def log(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def tamper(frame, mode, logpath):
    """Returns the frame, changed if it is the one to tamper with (and nothing was changed yet)."""
    global done
    with lock:
        if done or mode == "none":
            return frame
        body = bytearray(frame)
        if mode == "flip-data":
            if len(body) < 65536:
                return frame
            body[-1] ^= 0x01
            done = True
            log(logpath, "tampered: flipped the last byte of a %d-byte frame (magic %s)"
                % (len(body), bytes(body[:4]).hex()))
            return bytes(body)
        if mode == "flip-negotiate-guid":
            if len(body) < 64 + 24 or body[:4] != SMB2_MAGIC or struct.unpack_from("<H", body, 12)[0] != 0:
                return frame
            body[64 + 8] ^= 0x01  # ServerGuid: parsed as is, but covered by pre-auth integrity
            done = True
            log(logpath, "tampered: flipped a ServerGuid byte of the NEGOTIATE response")
            return bytes(body)
        kind, _, command = mode.rpartition("-")
        # A compound carries several responses, each with its own header and signature,
        # chained by NextCommand (MS-SMB2 3.3.4.1.3): look at each.
        at = 0
        while at + 64 <= len(body) and body[at:at + 4] == SMB2_MAGIC:
            (cmd,) = struct.unpack_from("<H", body, at + 12)
            (flags,) = struct.unpack_from("<I", body, at + 16)
            (status,) = struct.unpack_from("<I", body, at + 8)
            (next_command,) = struct.unpack_from("<I", body, at + 20)
            # not STATUS_PENDING: the interim response of an async operation
            if cmd == int(command) and flags & SIGNED and status != 0x00000103:
                break
            if next_command == 0:
                return frame
            at += next_command
        else:
            return frame
        if kind == "flip-signature":
            body[at + 48 + 5] ^= 0x40
            what = "flipped a signature byte"
        elif kind == "strip-signature":
            struct.pack_into("<I", body, at + 16, flags & ~SIGNED)
            body[at + 48:at + 64] = bytes(16)
            what = "cleared the SIGNED flag and zeroed the signature"
        else:
            raise SystemExit("tamper_proxy: unknown mode " + mode)
        done = True
        log(logpath, "tampered: %s of a response to command %d (status 0x%08x)%s"
            % (what, cmd, status, " in a compound" if at else ""))
        return bytes(body)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def pipe_raw(src, dst):
    try:
        while True:
            data = src.recv(1 << 20)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pipe_frames(src, dst, mode, logpath):
    """Server->client: split the stream into Direct TCP frames (4-byte length) and tamper."""
    try:
        while True:
            hdr = recv_exact(src, 4)
            if hdr is None:
                break
            length = int.from_bytes(hdr[1:4], "big")
            frame = recv_exact(src, length)
            if frame is None:
                break
            dst.sendall(hdr + tamper(frame, mode, logpath))
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    portfile, target, mode, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    with open(portfile + ".tmp", "w", encoding="utf-8") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", target))
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pipe_raw, args=(client, server), daemon=True).start()
        threading.Thread(target=pipe_frames, args=(server, client, mode, logpath),
                         daemon=True).start()


if __name__ == "__main__":
    main()
