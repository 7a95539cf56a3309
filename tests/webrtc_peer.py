"""A Python WebRTC peer (aiortc) in a video visit of the app, for tests against the real call page.

It connects to the app's Socket.IO server with a login's session cookie and speaks the call page's
protocol (``app/static/js/video_call.js`` over ``app/realtime/calls.py``): ``call:join``; as the
patient it waits for ``call:admitted`` and, being the newcomer, makes the offer (one audio and one
video transceiver and the "chat" data channel, as the page does); as the doctor it admits whoever
waits (``call:admit``) and answers the newcomer's offer. Offers and answers go as ``call:signal``
``{type, sdp}``, ICE candidates as the page's ``RTCIceCandidate.toJSON()`` (aiortc gathers before it
sends its description, so its own candidates are in its SDP and it trickles none).

It sends a synthetic picture (320x240 frames whose brightness changes every frame) and silence,
and counts the decoded frames of the video it receives. aiortc is asyncio: the peer runs its own
event loop on a thread, and the test calls it through blocking methods.

Imports aiortc at import time: import this module inside a test marked ``needs_aiortc``."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import av
import socketio
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

WIDTH, HEIGHT = 320, 240
WAIT = 10.0


class Pattern(VideoStreamTrack):
    """A synthetic camera: grey frames, a shade lighter each frame (the encoder has work to do)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        luma, y_plane = 16 + (self.count * 3) % 220, frame.planes[0]
        y_plane.update(bytes([luma]) * y_plane.buffer_size)
        for chroma in frame.planes[1:]:
            chroma.update(bytes([128]) * chroma.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


class PythonPeer:
    """One participant of the call at ``url`` (the live server) logged in by ``cookie``."""

    def __init__(self, url: str, cookie: str, appointment_id: int, name: str = "Python peer") -> None:
        self.url, self.cookie, self.appointment_id, self.name = url, cookie, appointment_id, name
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aiortc-peer", daemon=True)
        self.sio: Any = None
        self.pc: RTCPeerConnection | None = None
        self.channel: Any = None
        self.ice: list[dict] = []
        self.inbox: asyncio.Queue | None = None
        self.tasks: list[asyncio.Task] = []
        self.frames = 0                       # decoded frames of the video received
        self.frame_size: tuple[int, int] | None = None
        self.chat: list[dict] = []            # the chat messages received over the data channel
        self.refusals: list[dict] = []        # the server's refusals of this peer's events
        self.failures: list[str] = []         # anything that went wrong on the peer's side
        self.admitted: list[str] = []         # the sids this peer (as the doctor) let in
        self.channel_open = threading.Event()

    # --- blocking calls, from the test's thread ---------------------------------------------------

    def _run(self, coroutine: Any, timeout: float = WAIT) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def join(self) -> dict:
        """Connect and ``call:join``: the server's answer (the seat)."""
        self.thread.start()
        return self._run(self._join())

    def say(self, text: str) -> None:
        """A chat line to the page over the data channel, in the page's format."""
        assert self.channel_open.wait(WAIT), "the chat channel never opened"
        self.loop.call_soon_threadsafe(self.channel.send, json.dumps({"name": self.name, "text": text}))

    def close(self) -> None:
        if self.thread.is_alive():
            try:
                self._run(self._close())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=WAIT)

    # --- on the peer's loop -------------------------------------------------------------------------

    async def _join(self) -> dict:
        self.inbox = asyncio.Queue()
        self.sio = socketio.AsyncClient(reconnection=False)
        for event in ("call:signal", "call:admitted", "call:waiting"):
            self.sio.on(event, lambda data, event=event: self.inbox.put_nowait((event, data)))
        await self.sio.connect(self.url, headers={"Cookie": self.cookie}, transports=["websocket"], wait_timeout=WAIT)
        seat = await self.sio.call("call:join", {"appointment_id": self.appointment_id}, timeout=WAIT)
        if seat.get("ok"):
            self.ice = seat.get("ice_servers") or []
            self.tasks.append(asyncio.ensure_future(self._handle()))
            for waiting in seat.get("waiting") or []:  # the doctor: someone waits already
                self.inbox.put_nowait(("call:waiting", waiting))
        return seat

    async def _handle(self) -> None:
        """The server's events, one at a time and in order (an ICE candidate after its offer)."""
        assert self.inbox is not None
        while True:
            event, data = await self.inbox.get()
            try:
                if event == "call:waiting":
                    answer = await self._emit("call:admit", {"appointment_id": self.appointment_id})
                    self.admitted += answer.get("admitted", [])
                elif event == "call:admitted":
                    for sid in data.get("peers", []):  # the newcomer offers
                        await self._offer(sid)
                elif event == "call:signal":
                    await self._signal(data)
            except Exception as error:  # noqa: BLE001 - told to the test, which fails on it
                self.failures.append(f"{event}: {error!r}")

    async def _emit(self, event: str, data: dict) -> dict:
        answer = await self.sio.call(event, data, timeout=WAIT)
        if not answer or not answer.get("ok"):
            self.refusals.append({"event": event, "answer": answer})
        return answer or {}

    def _connection(self, sid: str) -> RTCPeerConnection:
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in self.ice]
        # the call's ICE servers (none here): never aiortc's default public STUN server
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.ensure_future(self._drain(track)))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self._use_channel(channel)

        return pc

    def _use_channel(self, channel: Any) -> None:
        self.channel = channel

        @channel.on("open")
        def on_open() -> None:
            self.channel_open.set()

        @channel.on("message")
        def on_message(message: Any) -> None:
            self.chat.append(json.loads(message))

        if channel.readyState == "open":
            self.channel_open.set()

    async def _drain(self, track: MediaStreamTrack) -> None:
        """Receive (and decode) the page's track; video frames are counted."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                self.frames += 1
                self.frame_size = (frame.width, frame.height)

    async def _offer(self, sid: str) -> None:
        pc = self._connection(sid)
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(Pattern())
        self._use_channel(pc.createDataChannel("chat"))
        await pc.setLocalDescription(await pc.createOffer())  # gathers the candidates into the SDP
        await self._emit("call:signal", {"appointment_id": self.appointment_id, "to": sid, "kind": "offer",
                                         "data": {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}})

    async def _signal(self, message: dict) -> None:
        kind, data, sid = message.get("kind"), message.get("data") or {}, message.get("from")
        if kind == "offer":
            pc = self._connection(sid)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type=data["type"]))
            pc.addTrack(AudioStreamTrack())  # into the offer's audio and video transceivers
            pc.addTrack(Pattern())
            await pc.setLocalDescription(await pc.createAnswer())
            await self._emit("call:signal", {"appointment_id": self.appointment_id, "to": sid, "kind": "answer",
                                             "data": {"type": pc.localDescription.type,
                                                      "sdp": pc.localDescription.sdp}})
        elif kind == "answer" and self.pc is not None:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type=data["type"]))
        elif kind == "ice" and self.pc is not None and data.get("candidate"):
            candidate = candidate_from_sdp(data["candidate"].split(":", 1)[1])
            candidate.sdpMid, candidate.sdpMLineIndex = data.get("sdpMid"), data.get("sdpMLineIndex")
            await self.pc.addIceCandidate(candidate)

    async def _close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.pc is not None:
            await self.pc.close()
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()
