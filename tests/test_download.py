"""Downloading sketchrnn files from a real HTTP server on 127.0.0.1: resume after an interrupted transfer, servers that
ignore Range, garbage and 404 answers; a file with the final name is always complete and valid."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sketchgen import data_cli
from sketchgen.datafiles import load_npz, save_npz
from sketchgen.download import BASE_URL_ENV, DEFAULT_BASE_URL, category_url, download_category
from sketchgen.errors import DataFileError


@dataclass
class _Behaviour:
    files: dict[str, bytes] = field(default_factory=dict)  # URL path -> body
    cut_first_after: int | None = None  # first request: send Content-Length of everything, then only this many bytes
    ignore_range: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    behaviour: _Behaviour

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # http.server's name
        b = self.behaviour
        b.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        body = b.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted and not b.ignore_range:
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if b.cut_first_after is not None and len(b.requests) == 1:
            payload = payload[: b.cut_first_after]  # then the connection closes (HTTP/1.0)
        self.wfile.write(payload)


@pytest.fixture
def server() -> Iterator[tuple[str, _Behaviour]]:
    behaviour = _Behaviour()
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/sketchrnn", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def npz_bytes(tmp_path_factory: pytest.TempPathFactory, make_sketch) -> bytes:
    """A real sketchrnn-style file (some tens of kB) to serve."""
    path = tmp_path_factory.mktemp("source") / "cat.npz"
    save_npz(path, {
        "train": [make_sketch(seed=i, n_points=30 + i % 50) for i in range(300)],
        "valid": [make_sketch(seed=1000 + i) for i in range(20)],
        "test": [make_sketch(seed=2000 + i) for i in range(20)],
    })
    return path.read_bytes()


def test_fresh_download(tmp_path: Path, server, npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    result = download_category("cat", tmp_path / "data", base_url=url, progress=False)
    assert result.path == tmp_path / "data" / "cat.npz"
    assert result.path.read_bytes() == npz_bytes
    assert result.split_sizes == {"train": 300, "valid": 20, "test": 20} and result.resumed_from == 0
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["cat.npz"]
    assert "range" not in behaviour.requests[0]


def test_interrupted_download_resumes_with_a_range_request(tmp_path: Path, server, npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    behaviour.cut_first_after = cut = 5000
    expected = rf"interrupted after {cut} of {len(npz_bytes)} bytes.*run the same command again to resume"
    with pytest.raises(DataFileError, match=expected):
        download_category("cat", tmp_path, base_url=url, progress=False)
    assert not (tmp_path / "cat.npz").exists()
    assert (tmp_path / "cat.npz.part").read_bytes() == npz_bytes[:cut]

    result = download_category("cat", tmp_path, base_url=url, progress=False)
    assert behaviour.requests[1]["range"] == f"bytes={cut}-"
    assert result.resumed_from == cut
    assert (tmp_path / "cat.npz").read_bytes() == npz_bytes
    assert not (tmp_path / "cat.npz.part").exists()


def test_server_that_ignores_range_restarts_cleanly(tmp_path: Path, server, npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    behaviour.ignore_range = True
    (tmp_path / "cat.npz.part").write_bytes(b"x" * 700)  # whatever an earlier run left
    result = download_category("cat", tmp_path, base_url=url, progress=False)
    assert behaviour.requests[0]["range"] == "bytes=700-"  # it asked, the server answered 200 with everything
    assert result.resumed_from == 0
    assert (tmp_path / "cat.npz").read_bytes() == npz_bytes


def test_part_file_of_an_older_version_is_fetched_again_whole(tmp_path: Path, server, npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    (tmp_path / "cat.npz.part").write_bytes(b"\0" * 4000)  # continues fine over HTTP, but the result is corrupt
    download_category("cat", tmp_path, base_url=url, progress=False)
    assert [r.get("range") for r in behaviour.requests] == ["bytes=4000-", None]
    assert (tmp_path / "cat.npz").read_bytes() == npz_bytes


def test_complete_part_file_is_verified_and_kept(tmp_path: Path, server, npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    (tmp_path / "cat.npz.part").write_bytes(npz_bytes)  # interrupted after the last byte, before the rename
    result = download_category("cat", tmp_path, base_url=url, progress=False)
    assert result.resumed_from == len(npz_bytes)
    assert (tmp_path / "cat.npz").read_bytes() == npz_bytes


def test_garbage_from_the_server_leaves_no_npz(tmp_path: Path, server) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = b"<html><body>Please sign in to the hotel wifi</body></html>"
    with pytest.raises(DataFileError, match=r"cat\.npz: the server sent something that is not a sketch-rnn \.npz "
                                            r"for 'cat' \(is not an \.npz file.*nothing was saved"):
        download_category("cat", tmp_path, base_url=url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_404_names_the_category(tmp_path: Path, server) -> None:
    url, _ = server
    with pytest.raises(DataFileError, match=r"/sketchrnn/unicorn%20cat\.npz: HTTP 404 Not Found: there is no "
                                            r"QuickDraw category 'unicorn cat'"):
        download_category("unicorn cat", tmp_path, base_url=url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_names_with_spaces_are_quoted_and_env_var_sets_the_base(monkeypatch, tmp_path: Path, server,
                                                                 npz_bytes: bytes) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/hot%20dog.npz"] = npz_bytes
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    assert category_url("hot dog") == f"{DEFAULT_BASE_URL}/hot%20dog.npz"
    monkeypatch.setenv(BASE_URL_ENV, url + "/")
    assert category_url("hot dog") == f"{url}/hot%20dog.npz"
    result = download_category("hot dog", tmp_path, progress=False)
    assert result.path.name == "hot dog.npz" and result.path.read_bytes() == npz_bytes


def test_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot reach the server"):
        download_category("cat", tmp_path, base_url="http://127.0.0.1:9", progress=False, timeout=5)


def test_cli_download(tmp_path: Path, server, npz_bytes: bytes, capsys) -> None:
    url, behaviour = server
    behaviour.files["/sketchrnn/cat.npz"] = npz_bytes
    out_dir = str(tmp_path / "d")
    assert data_cli.main(["download", "cat", "--out-dir", out_dir, "--base-url", url]) == 0
    out = capsys.readouterr().out
    assert "cat: saved" in out and "train 300 / valid 20 / test 20 sketches" in out
    assert len(load_npz(tmp_path / "d" / "cat.npz")["train"]) == 300

    assert data_cli.main(["download", "cat", "--out-dir", out_dir, "--base-url", url, "--quiet"]) == 0
    assert "already exists, skipped" in capsys.readouterr().out
    assert len(behaviour.requests) == 1

    assert data_cli.main(["download", "dog", "cat", "--out-dir", out_dir, "--base-url", url, "--quiet",
                          "--force"]) == 2
    captured = capsys.readouterr()
    assert "there is no QuickDraw category 'dog'" in captured.err and "Traceback" not in captured.err
    assert "1 of 2 downloads failed" in captured.err
    assert "cat: saved" in captured.out  # one bad name does not stop the others

    assert data_cli.main(["download", "../evil", "--out-dir", out_dir, "--base-url", url]) == 2
    assert "invalid category name '../evil'" in capsys.readouterr().err
