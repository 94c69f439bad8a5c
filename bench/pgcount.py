#!/usr/bin/env python3
"""Count a PostgreSQL client's round trips: a TCP relay that reads the frontend's messages.

    pgcount.py UPSTREAM_HOST UPSTREAM_PORT STATE_FILE

Listens on 127.0.0.1 (a port the kernel picks, printed as "listening on 127.0.0.1:PORT" on
stdout), relays every connection to the PostgreSQL server unchanged and parses what the
client sends (protocol 3): a round trip ends with each Sync ('S', the end of an extended-query
exchange: Parse+Describe+Sync to prepare, Bind+Execute+Sync to run) and each simple Query
('Q': BEGIN, COMMIT, batch_execute). On SIGUSR1 it writes STATE_FILE (JSON): the totals by
message type, the round trips, and per statement text how often it was bound (run) or
prepared, and the sequence of round trips (one label each), so a difference of two snapshots
says which statements a batch of requests ran, and in which order.
bench/run.sh puts it only in front of the counting node, never in the measured load.

The client must not use TLS through it (sslmode=disable): an encrypted stream cannot be
parsed; the relay then still forwards it but marks the state "opaque".
"""

import asyncio
import json
import os
import signal
import struct
import sys

SSL_REQUEST, GSS_REQUEST = 80877103, 80877104

state = {"connections": 0, "round_trips": 0, "messages": {}, "run": {}, "prepared": {}, "simple": {}, "opaque": False,
         "sequence": []}  # one label per round trip, in order: the statement run, "prepare: …", or the simple query


def bump(table, key, n=1):
    table[key] = table.get(key, 0) + n


def cstr(buf, at):
    end = buf.index(b"\0", at)
    return buf[at:end].decode("utf-8", "replace"), end + 1


class Frontend:
    """Parses the client's byte stream, message by message."""

    def __init__(self):
        self.buf = b""
        self.startup = True
        self.names = {}  # prepared statement name -> SQL text (per connection)
        self.opaque = False
        self.exchange = None  # what the current extended-query exchange did, for its label

    def feed(self, data):
        if self.opaque:
            return
        self.buf += data
        while True:
            if self.startup:
                if len(self.buf) < 8:
                    return
                length, code = struct.unpack("!II", self.buf[:8])
                if len(self.buf) < length:
                    return
                self.buf = self.buf[length:]
                if code in (SSL_REQUEST, GSS_REQUEST):
                    continue  # the server's answer decides; see upstream()
                self.startup = False
                continue
            if len(self.buf) < 5:
                return
            kind = chr(self.buf[0])
            (length,) = struct.unpack("!I", self.buf[1:5])
            if len(self.buf) < 1 + length:
                return
            body = self.buf[5 : 1 + length]
            self.buf = self.buf[1 + length :]
            self.message(kind, body)

    def message(self, kind, body):
        bump(state["messages"], kind)
        if kind == "S":
            state["round_trips"] += 1
            state["sequence"].append(self.exchange or "sync")
            self.exchange = None
        elif kind == "Q":
            state["round_trips"] += 1
            sql = cstr(body, 0)[0].strip()
            bump(state["simple"], sql)
            state["sequence"].append(sql)
        elif kind == "P":
            name, at = cstr(body, 0)
            sql, _ = cstr(body, at)
            self.names[name] = sql
            bump(state["prepared"], sql)
            self.exchange = self.exchange or "prepare: " + sql
        elif kind == "B":
            _, at = cstr(body, 0)
            name, _ = cstr(body, at)
            sql = self.names.get(name, "<statement %r>" % name)
            bump(state["run"], sql)
            self.exchange = sql


async def pipe(reader, writer, on_data=None):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if on_data:
                on_data(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def dump():
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)

    async def handle(creader, cwriter):
        state["connections"] += 1
        try:
            ureader, uwriter = await asyncio.open_connection(host, port)
        except OSError:
            cwriter.close()
            return
        front = Frontend()

        async def upstream():
            # An SSL/GSS request is answered with one byte: 'S'/'G' means the rest is encrypted.
            first = True
            try:
                while True:
                    data = await ureader.read(65536)
                    if not data:
                        break
                    if first and front.startup and data[:1] in (b"S", b"G") and len(data) == 1:
                        front.opaque = state["opaque"] = True
                    first = False
                    cwriter.write(data)
                    await cwriter.drain()
            except ConnectionError:
                pass
            finally:
                try:
                    cwriter.close()
                except Exception:
                    pass

        await asyncio.gather(pipe(creader, uwriter, front.feed), upstream())

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, dump)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    dump()
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, RuntimeError):
        pass
