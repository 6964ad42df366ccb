"""Test helpers for the official-model tests: small sketch-rnn-js models made from random weights, and a real HTTP
server on 127.0.0.1 standing in for the official storage."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from sketchgen.official.jsformat import GEN_BLOBS, VAE_BLOBS, dumps_js_model


def tiny_js_model(kind: str = "gen", units: int = 16, enc_units: int = 8, z_size: int = 4, seed: int = 0,
                  **info) -> str:
    """The JSON text of a small random model in the official layout (weights small enough for the format)."""
    rng = np.random.default_rng(seed)
    h, e, nz = units, enc_units, z_size
    shapes = {"dec_output_w": (h, 123), "dec_output_b": (123,), "dec_lstm_W_xh": (5 + (nz if kind == "vae" else 0),
                                                                                   4 * h),
              "dec_lstm_W_hh": (h, 4 * h), "dec_lstm_bias": (4 * h,)}
    if kind == "vae":
        for side in ("fw", "bw"):
            shapes.update({f"enc_{side}_lstm_W_xh": (5, 4 * e), f"enc_{side}_lstm_W_hh": (e, 4 * e),
                           f"enc_{side}_lstm_bias": (4 * e,)})
        shapes.update({"enc_mu_w": (2 * e, nz), "enc_mu_b": (nz,), "enc_sigma_w": (2 * e, nz), "enc_sigma_b": (nz,),
                       "enc_w": (nz, 2 * h), "enc_b": (2 * h,)})
    names = VAE_BLOBS if kind == "vae" else GEN_BLOBS
    weights = {n: rng.normal(0, 0.4, shapes[n]).astype(np.float32) for n in names}
    header = {"name": "tiny", "mode": 2 if kind == "gen" else 1, "version": 6, "max_seq_len": 40,
              "scale_factor": 20.0, **info}
    return dumps_js_model(header, weights)


@dataclass
class Storage:
    """What the stand-in server serves: URL path -> body; or HTML error pages for everything."""

    files: dict[str, bytes] = field(default_factory=dict)
    html_errors: bool = False
    requests: list[str] = field(default_factory=list)
    prefix: str = "/quickdraw-models/sketchRNN/large_models"

    def add(self, file_name: str, body: bytes) -> None:
        self.files[f"{self.prefix}/{file_name}"] = body


class _Handler(BaseHTTPRequestHandler):
    storage: Storage

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.storage.requests.append(self.path)
        body = self.storage.files.get(self.path)
        if self.storage.html_errors:
            page = b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted:
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])


@contextmanager
def official_storage(storage: Storage) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``storage``; yields its base URL."""
    handler = type("Handler", (_Handler,), {"storage": storage})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{storage.prefix}"
    finally:
        httpd.shutdown()
        httpd.server_close()
