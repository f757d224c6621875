#!/usr/bin/python3
"""Userspace TCP delay line for the benchmark (this kernel has no sch_netem):
testing-recipes.md appendix B, plus the TCP handshake.

usage: delay_proxy.py TARGET_PORT ONE_WAY_DELAY_MS     (prints the port it listens on)

Each chunk is released ONE_WAY_DELAY_MS after it arrived, per direction, in
order and pipelined, with TCP_NODELAY on both legs.  The client's connect()
completes at once on loopback, so without more the proxy would hide TCP's
round trip; it counts it instead: nothing the client sends reaches the server
before one round trip has passed since the connection was accepted (as with a
real SYN, SYN-ACK, then data), so the first bytes arrive 1.5 RTT after the
connect, as they would on a real link.
"""
import asyncio
import socket
import sys
import time

target, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000


async def pump(reader, writer, not_before=0.0):
    q = asyncio.Queue()

    async def rx():
        while True:
            data = await reader.read(65536)
            await q.put((max(time.monotonic() + delay, not_before), data))
            if not data:
                return

    async def tx():
        while True:
            when, data = await q.get()
            dt = when - time.monotonic()
            if dt > 0:
                await asyncio.sleep(dt)
            if not data:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(rx(), tx(), return_exceptions=True)


async def handle(cr, cw):
    accepted = time.monotonic()
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cw.close()
        return
    for w in (cw, sw):
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pump(cr, sw, accepted + 3 * delay), pump(sr, cw),
                         return_exceptions=True)
    cw.close()
    sw.close()


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
