"""Helpers for the processes that hold files open while the shell changes something
(test_mount_reconnect.sh, test_mount_durable.sh, test_mount_lease.sh). One process holds them: a shell holding
them would pass them to every command it runs, and each such command's exit flushes them
(FUSE_FLUSH), which waits for the connection like any other request. Each step's outcome
("ok" or the errno's name) goes to T/holder.NAME for the shell to check."""
import errno
import os
import time


def step(t, name, fn):
    try:
        fn()
        outcome = "ok"
    except OSError as e:
        outcome = errno.errorcode[e.errno]
    with open(os.path.join(t, "holder." + name), "w") as f:
        f.write(outcome + "\n")


def wait_go(t, name):
    """Says T/NAME.ready, then waits for the shell's T/NAME.go."""
    with open(os.path.join(t, name + ".ready"), "w") as f:
        f.write("ready\n")
    while not os.path.exists(os.path.join(t, name + ".go")):
        time.sleep(0.05)


def copy_part(fd_in, path_out, n):
    """Reads up to n bytes from fd_in (to its end at most) into the file path_out."""
    with open(path_out, "wb") as out:
        while n > 0:
            b = os.read(fd_in, min(n, 1 << 20))
            if not b:
                break
            out.write(b)
            n -= len(b)


def write_file(fd_out, path_in, sync=True):
    """Writes the file path_in through fd_out, then fsyncs (unless sync is False)."""
    with open(path_in, "rb") as f:
        os.write(fd_out, f.read())
    if sync:
        os.fsync(fd_out)


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def pread_until(fd, prefix, limit_s=10):
    """Reads the file (pread from 0) until it starts with prefix or limit_s pass; a line
    "after S s: CONTENTS" (newlines as |) for the shell."""
    start = time.monotonic()
    while True:
        now = os.pread(fd, 65536, 0)
        if now.startswith(prefix) or time.monotonic() - start > limit_s:
            break
        time.sleep(0.05)
    return "after %.2f s: %s" % (time.monotonic() - start,
                                 now.decode().strip().replace("\n", "|"))
