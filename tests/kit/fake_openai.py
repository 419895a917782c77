#!/usr/bin/env python3
"""A fake OpenAI-compatible API and audio file server for the kit's tests.

Listens on 127.0.0.1 only, on the port given (0: any free port), and prints
"PORT <n>" on its first line of stdout once it is listening. Every request is
appended, as one JSON object per line, to the --record file.

Routes:
  POST /v1/audio/transcriptions   multipart: needs "Authorization: Bearer KEY"
                                  (--key), a "file" part and a "model" field;
                                  answers {"text": TRANSCRIPT}
  POST /v1/chat/completions       JSON; answers one choice with SUMMARY
  GET  /audio/episode.mp3         a small fake MP3 (ID3 header + bytes)
  GET  /audio/episode.wav         a small valid 16 kHz mono WAV
  GET  /audio/big.mp3             --big-bytes bytes, with Content-Length
  GET  /audio/big-chunked.mp3     --big-bytes bytes, chunked (no length)
  GET  /audio/redirect-file       302 to file:///etc/passwd
  anything else                   404
"""
import argparse
import json
import struct
import sys
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRANSCRIPT = "hello from the fake api"
SUMMARY = "fake summary of the transcript"


def make_wav(seconds=1, rate=16000):
    data = b"\x00\x00" * rate * seconds
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(data)) + data


def parse_multipart(content_type, body):
    msg = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields, files = {}, {}
    if not msg.is_multipart():
        return fields, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = {"filename": filename, "size": len(payload),
                           "head": payload[:4].decode("latin-1")}
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def record(self, **kw):
        kw.update(method=self.command, path=self.path)
        with open(self.server.args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(kw) + "\n")

    def reply(self, code, body=b"", ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        a = self.server.args
        self.record()
        # /audio/* ignore a query string (signed URLs carry their token there).
        if self.path.startswith("/audio/") and "?" in self.path and \
                self.path.split("?", 1)[0] in ("/audio/episode.mp3", "/audio/episode.wav"):
            self.path = self.path.split("?", 1)[0]
        if self.path == "/audio/episode.mp3":
            self.reply(200, b"ID3\x03" + b"\x00" * 2048, "audio/mpeg")
        elif self.path == "/audio/episode.wav":
            self.reply(200, make_wav(), "audio/wav")
        elif self.path == "/audio/big.mp3":
            self.reply(200, b"\x01" * a.big_bytes, "audio/mpeg")
        elif self.path == "/audio/big-chunked.mp3":
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\x01" * 65536
            left = a.big_bytes
            try:
                while left > 0:
                    n = min(left, len(chunk))
                    self.wfile.write(b"%x\r\n" % n + chunk[:n] + b"\r\n")
                    left -= n
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/audio/redirect-file":
            self.reply(302, b"", extra={"Location": "file:///etc/passwd"})
        else:
            self.reply(404, b'{"error": "not found"}')

    def do_POST(self):
        a = self.server.args
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization", "")
        auth_ok = auth == "Bearer " + a.key
        if self.path == "/v1/audio/transcriptions":
            fields, files = parse_multipart(self.headers.get("Content-Type", ""), body)
            self.record(auth_ok=auth_ok, fields=fields, files=files)
            if not auth_ok:
                self.reply(401, b'{"error": {"message": "bad key"}}')
            elif "file" not in files or not fields.get("model"):
                self.reply(400, b'{"error": {"message": "file and model are required"}}')
            else:
                self.reply(200, json.dumps({"text": a.transcript}).encode())
        elif self.path == "/v1/chat/completions":
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                req = None
            self.record(auth_ok=auth_ok, json=req)
            if not auth_ok:
                self.reply(401, b'{"error": {"message": "bad key"}}')
            elif not isinstance(req, dict) or not req.get("messages"):
                self.reply(400, b'{"error": {"message": "messages required"}}')
            else:
                answer = {"choices": [{"index": 0, "message": {
                    "role": "assistant", "content": SUMMARY}}]}
                self.reply(200, json.dumps(answer).encode())
        else:
            self.record(auth_ok=auth_ok)
            self.reply(404, b'{"error": "not found"}')


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--key", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--transcript", default=TRANSCRIPT)
    p.add_argument("--big-bytes", type=int, default=3 * 1024 * 1024)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.args = args
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
