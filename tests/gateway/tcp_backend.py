#!/usr/bin/env python3
"""A stand-in SMB backend for the gateway tests: a TCP server on 127.0.0.1 (port chosen by
the kernel, printed as the first line of stdout) with one behaviour for every connection:

  echo    send back everything received
  stall   accept and never read (the client's bytes pile up: back-pressure)
  close   accept and close at once (the gateway must close the QUIC connection)
  source  write an endless stream of bytes and never read
  sink    read and discard everything
"""
import asyncio
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "echo"


async def handle(reader, writer):
    try:
        if MODE == "echo":
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        elif MODE == "stall":
            await asyncio.sleep(3600)
        elif MODE == "sink":
            while await reader.read(1 << 16):
                pass
        elif MODE == "source":
            block = bytes(range(256)) * 256
            while True:
                writer.write(block)
                await writer.drain()
        # "close" falls through
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if MODE not in ("echo", "stall", "close", "source", "sink"):
    sys.exit("unknown mode " + MODE)
asyncio.run(main())
