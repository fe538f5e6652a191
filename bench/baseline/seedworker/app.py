"""The seed's single-call voice worker, rebuilt for the baseline benchmark.

Run one per Unix socket, as the seed's voxcore@ units do:

    /usr/bin/python3 -m uvicorn app:app --uds /tmp/voxcore_1.sock --workers 1

It takes one call at a time (MAX_CONCURRENT_CALLS=1) and speaks the parts of
Twilio Media Streams that the Go test client uses, with the same behaviour as
the Go worker's scripted agent: a greeting followed by a "greeting" mark, an
echo of each utterance followed by an "echo-N" mark, and a hang-up on '#'.

Routes:
    GET  /health      {"state": "idle" | "busy", "pid": ...}
    GET  /ws/twilio   Media Streams WebSocket
    POST /attach      202 and busy for ATTACH_SECONDS (default 2); 429 while busy

A busy worker refuses a second stream by accepting it and closing it at once
with 1013 (try again later). uvicorn 0.17 (Debian 12) cannot answer a
WebSocket handshake with an HTTP 429: before accept, the only refusal the ASGI
server offers is a close, which it turns into an HTTP 403.
"""

import asyncio
import base64
import json
import math
import os

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

MAX_CONCURRENT_CALLS = int(os.environ.get("MAX_CONCURRENT_CALLS", "1"))
ATTACH_SECONDS = float(os.environ.get("ATTACH_SECONDS", "2"))

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
VOICED_RMS = 500  # the Go agent's default VAD threshold
MIN_SPEECH_MS = 200
PAUSE_MS = 600
MAX_UTTERANCE_MS = 10000
CLOSE_TRY_AGAIN_LATER = 1013

app = FastAPI()

# One event loop, one thread: plain counters are enough.
active_calls = 0
echoes_sent = 0


def ulaw_decode(b):
    """Decodes one G.711 mu-law byte to a 16-bit linear sample."""
    b = ~b & 0xFF
    sign = b & 0x80
    exponent = (b >> 4) & 0x07
    mantissa = b & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def ulaw_encode(sample):
    """Encodes a 16-bit linear sample as one G.711 mu-law byte."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    sample = min(sample, clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


DECODE = [ulaw_decode(i) for i in range(256)]


def rms(mulaw):
    """Root-mean-square level of mu-law audio, in linear units."""
    if not mulaw:
        return 0.0
    total = 0
    for b in mulaw:
        s = DECODE[b]
        total += s * s
    return math.sqrt(total / len(mulaw))


def tone(seconds, hz, amplitude):
    """A sine tone as mu-law bytes."""
    n = int(seconds * SAMPLE_RATE)
    return bytes(
        ulaw_encode(int(amplitude * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)))
        for i in range(n)
    )


GREETING = tone(1.0, 523.25, 6000)


def busy():
    return active_calls >= MAX_CONCURRENT_CALLS


@app.get("/health")
async def health():
    return {"state": "busy" if busy() else "idle", "pid": os.getpid()}


@app.post("/attach")
async def attach(request: Request):
    global active_calls
    if busy():
        return JSONResponse({"error": "busy"}, status_code=429)
    active_calls += 1
    body = await request.body()

    async def run_call():
        global active_calls
        try:
            await asyncio.sleep(ATTACH_SECONDS)
        finally:
            active_calls -= 1

    asyncio.get_running_loop().create_task(run_call())
    call_id = ""
    try:
        call_id = json.loads(body or b"{}").get("call_id", "")
    except (ValueError, AttributeError):
        pass
    return JSONResponse({"call_id": call_id, "status": "accepted"}, status_code=202)


async def send_audio(ws, stream_sid, mulaw, mark):
    """Sends audio as 20 ms media messages, then a mark."""
    for i in range(0, len(mulaw), FRAME_BYTES):
        payload = base64.b64encode(mulaw[i : i + FRAME_BYTES]).decode("ascii")
        await ws.send_text(
            json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})
        )
    await ws.send_text(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": mark}}))


class Listener:
    """Energy-based utterance detection: speech, then a pause."""

    def __init__(self):
        self.buf = bytearray()
        self.speech_ms = 0.0
        self.silence_ms = 0.0
        self.speaking = False

    def push(self, mulaw):
        """Feeds audio; returns a finished utterance (trailing pause trimmed) or None."""
        ms = len(mulaw) * 1000 / SAMPLE_RATE
        if rms(mulaw) >= VOICED_RMS:
            self.speaking = True
            self.speech_ms += ms
            self.silence_ms = 0.0
            self.buf += mulaw
        elif self.speaking:
            self.silence_ms += ms
            self.buf += mulaw
        else:
            return None
        total_ms = len(self.buf) * 1000 / SAMPLE_RATE
        if self.silence_ms < PAUSE_MS and total_ms < MAX_UTTERANCE_MS:
            return None
        trailing = int(self.silence_ms * SAMPLE_RATE / 1000)
        utterance = bytes(self.buf[: len(self.buf) - trailing])
        enough = self.speech_ms >= MIN_SPEECH_MS
        self.__init__()
        return utterance if enough else None


@app.websocket("/ws/twilio")
async def twilio_stream(ws: WebSocket):
    global active_calls
    if busy():
        await ws.accept()
        await ws.close(code=CLOSE_TRY_AGAIN_LATER)
        return
    active_calls += 1
    try:
        await ws.accept()
        await run_stream(ws)
    except WebSocketDisconnect:
        pass
    finally:
        active_calls -= 1


async def run_stream(ws):
    stream_sid = ""
    listener = Listener()
    echoes = 0
    while True:
        msg = json.loads(await ws.receive_text())
        event = msg.get("event")
        if event == "start":
            stream_sid = msg.get("streamSid") or msg.get("start", {}).get("streamSid", "")
            await send_audio(ws, stream_sid, GREETING, "greeting")
        elif event == "media":
            audio = base64.b64decode(msg.get("media", {}).get("payload", ""))
            utterance = listener.push(audio)
            if utterance:
                echoes += 1
                await send_audio(ws, stream_sid, utterance, "echo-%d" % echoes)
        elif event == "dtmf":
            if msg.get("dtmf", {}).get("digit") == "#":
                await ws.close(code=1000)
                return
        elif event == "stop":
            await ws.close(code=1000)
            return
