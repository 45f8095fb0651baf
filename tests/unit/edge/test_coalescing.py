"""CoalescingTransport: while other requests are being answered, what is written in one turn of the event
loop reaches the socket's transport at the next turn as one write, in order, per connection (a response
completing while no other request waits goes at once); close and set_protocol flush first, abort drops, 16 KiB goes out at
once, flush_held() empties the holds before long work, "100 Continue" is not held. Driven with a recording stand-in for the socket's
transport (asyncio's own)."""

from __future__ import annotations

import asyncio
from typing import Any

from nimbus.edge.h2c import FLUSH_NOW_BYTES, CoalescingTransport, flush_held


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        assert not self.closing, "a write after close"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.events.append("close")
        self.closing = True

    def abort(self) -> None:
        self.events.append("abort")
        self.closing = True

    def write_eof(self) -> None:
        self.events.append("eof")

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.events.append("set_protocol")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _busy(t: CoalescingTransport, active: int = 2) -> None:
    t._flusher.active = active  # requests in flight on the loop (the protocol counts them)


async def _turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_writes_of_one_turn_leave_as_one_write_per_connection_at_the_next() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a_raw, b_raw = Recording(), Recording()
        a, b = CoalescingTransport(a_raw, loop), CoalescingTransport(b_raw, loop)
        _busy(a)
        a.write(b"HTTP/1.1 200 OK\r\n\r\n")
        b.write(b"one")
        a.write(b"body")
        b.writelines([b"two", b"", b"three"])
        assert a_raw.writes == [] and b_raw.writes == []
        assert a.get_write_buffer_size() == 7 + len(b"HTTP/1.1 200 OK\r\n\r\nbody")
        await _turn()
        assert a_raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        assert b_raw.writes == [b"onetwothree"]
        a.write(b"again")
        await _turn()
        assert a_raw.writes[-1] == b"again" and len(b_raw.writes) == 1
        assert a.get_extra_info("peername") == ("127.0.0.1", 1)  # everything else is the socket's transport

    asyncio.run(main())


def test_close_eof_and_handover_flush_first_abort_drops() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        raw = Recording()
        t = CoalescingTransport(raw, loop)
        _busy(t)
        t.write(b"last words")
        t.write_eof()
        assert raw.writes == [b"last words"] and raw.events == ["eof"]
        t.write(b"to the next protocol")
        t.set_protocol(asyncio.Protocol())
        assert raw.writes[-1] == b"to the next protocol" and raw.events[-1] == "set_protocol"
        t.write(b"bye")
        t.close()
        assert raw.writes[-1] == b"bye" and raw.events[-1] == "close"
        t.write(b"after close")  # held, then dropped by the flush: the socket is closing
        await _turn()
        assert raw.writes[-1] == b"bye"

        raw2 = Recording()
        t2 = CoalescingTransport(raw2, loop)
        _busy(t2)
        t2.write(b"never sent")
        t2.abort()
        await _turn()
        assert raw2.writes == [] and raw2.events == ["abort"]

    asyncio.run(main())


def test_a_large_write_goes_out_at_once() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        raw = Recording()
        t = CoalescingTransport(raw, loop)
        _busy(t)
        t.write(b"head")
        t.write(memoryview(b"x" * FLUSH_NOW_BYTES))
        assert raw.writes == [b"head" + b"x" * FLUSH_NOW_BYTES]
        await _turn()
        assert len(raw.writes) == 1

    asyncio.run(main())


def test_a_failing_socket_does_not_hold_the_others() -> None:
    class Broken(Recording):
        def write(self, data: Any) -> None:
            raise OSError("gone")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bad_raw, good_raw = Broken(), Recording()
        bad, good = CoalescingTransport(bad_raw, loop), CoalescingTransport(good_raw, loop)
        _busy(bad)
        bad.write(b"x")
        good.write(b"y")
        await _turn()
        assert good_raw.writes == [b"y"]
        assert bad_raw.events == ["abort"]

    asyncio.run(main())


def _protocol(loop: asyncio.AbstractEventLoop, raw: Recording) -> Any:
    import uvicorn
    from uvicorn.server import ServerState

    from nimbus.edge.h2c import Http1Or2Protocol

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, server_header=False, date_header=False)
    protocol = Http1Or2Protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    protocol.connection_made(raw)
    return protocol


def test_nimbus_protocol_answers_with_one_write_per_response() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        raw = Recording()
        protocol = _protocol(loop, raw)
        protocol.data_received(b"GET /lone HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await asyncio.sleep(0)
        assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n/lone"]

        # two connections answered in the same turn: each still one write, in its own order
        raw_a, raw_b = Recording(), Recording()
        a, b = _protocol(loop, raw_a), _protocol(loop, raw_b)
        a.data_received(b"GET /a1 HTTP/1.1\r\nHost: x\r\n\r\n")
        b.data_received(b"GET /b1 HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await asyncio.sleep(0)
        assert raw_a.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n/a1"]
        assert raw_b.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n/b1"]
        for p in (protocol, a, b):
            p.connection_lost(None)

    asyncio.run(main())


def test_flush_held_writes_before_long_work() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        raw = Recording()
        t = CoalescingTransport(raw, loop)
        _busy(t)
        t.write(b"answered")
        assert raw.writes == []
        flush_held()  # what the edge calls before parsing a large body
        assert raw.writes == [b"answered"]
        await _turn()
        assert raw.writes == [b"answered"]
        t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # an interim answer the client waits on: straight through
        assert raw.writes[-1] == b"HTTP/1.1 100 Continue\r\n\r\n"
        t.write(b"later")
        t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # behind held bytes it keeps its place
        assert raw.writes[-1] == b"HTTP/1.1 100 Continue\r\n\r\n"
        await _turn()
        assert raw.writes[-1] == b"laterHTTP/1.1 100 Continue\r\n\r\n"

    asyncio.run(main())
