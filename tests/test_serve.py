"""`artkit serve` over real HTTP: a uvicorn server on a free loopback port, called with
httpx. Each endpoint against the API it serves, the limits (body, pixels, sniffing, hostile
uploads), the token, the bind refusal, the 503 path and SIGTERM with requests in flight.

The models are the bundled ones (the painting detector doubles as the classifier), so no
model is trained here; one server serves the whole module."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from artkit.bundled import painting_detector  # noqa: E402
from artkit.cli.serve.config import ServeConfig  # noqa: E402

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(config: ServeConfig) -> Iterator[str]:
    """A server for `config` on a thread of this process; its base URL."""
    from artkit.cli.serve.server import build_server

    server = build_server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def jpeg(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    """A photo-like JPEG: a wall with a framed 'painting' on it."""
    import cv2

    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), rng.integers(150, 220), np.uint8)
    x1, y1 = width // 4 + seed * 5, height // 4
    cv2.rectangle(image, (x1, y1), (x1 + width // 3, y1 + height // 3), (40, 30, 20), 6)
    image[y1 + 6:y1 + height // 3 - 6, x1 + 6:x1 + width // 3 - 6] = \
        rng.integers(0, 255, (height // 3 - 12, width // 3 - 12, 3))
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (IHDR only, no real pixels)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * 64) * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + \
        chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-photos")
    for seed in range(4):
        (folder / f"photo{seed}.jpg").write_bytes(jpeg(seed=seed))
    return folder


@pytest.fixture(scope="module")
def index(photos: Path) -> Path:
    from artkit.api.embed import build_index

    return build_index(photos, None, photos.parent / "index.npz", progress=False).path


@pytest.fixture(scope="module")
def base(index: Path) -> Iterator[str]:
    config = ServeConfig(model=painting_detector(), index=index, port=free_port(),
                         token=TOKEN, max_body_mb=1.0, max_pixels=20_000_000,
                         max_wait_ms=2.0)
    with running(config) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as session:
        yield session


def post(client: httpx.Client, endpoint: str, data: bytes, name: str = "photo.jpg",
         content_type: str = "image/jpeg") -> httpx.Response:
    return client.post(endpoint, files={"file": (name, data, content_type)})


def one_line_error(response: httpx.Response) -> str:
    assert "\n" not in response.text.strip()
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


# -- endpoints ---------------------------------------------------------------------------------
def test_predict_answers_what_the_api_predicts(client: httpx.Client, photos: Path) -> None:
    import artkit

    path = photos / "photo1.jpg"
    response = post(client, "/v1/predict", path.read_bytes())
    assert response.status_code == 200, response.text
    served = response.json()
    offline = next(iter(artkit.load(painting_detector()).predict([path])))
    assert served["status"] == "ok" and served["label"] == offline.label
    assert served["path"] == "photo.jpg"
    scores = [served["scores"][label] for label in offline.model_labels]
    np.testing.assert_allclose(scores, offline.scores, atol=1e-5)
    assert served["top"][0][0] == offline.label


def test_detect_answers_what_the_api_detects(client: httpx.Client, photos: Path) -> None:
    import artkit

    path = photos / "photo2.jpg"
    response = client.post("/v1/detect", params={"crops": "true"},
                           files={"file": ("p.jpg", path.read_bytes(), "image/jpeg")})
    assert response.status_code == 200, response.text
    served = response.json()
    offline = next(iter(artkit.detect([path], progress=False)))
    assert served["size"] == [240, 320] and served["method"] == "frames+cnn"
    np.testing.assert_allclose(np.reshape(served["boxes"], (-1, 4)), offline.boxes, atol=0.1)
    np.testing.assert_allclose(served["scores"], offline.scores, atol=1e-4)
    assert len(served["crops"]) == min(len(served["boxes"]), 12)
    assert all(c.startswith("data:image/jpeg;base64,") for c in served["crops"])


def test_similar_finds_the_indexed_photo_itself(client: httpx.Client, photos: Path) -> None:
    response = post(client, "/v1/similar", (photos / "photo3.jpg").read_bytes())
    assert response.status_code == 200, response.text
    best = response.json()["neighbours"][0]
    assert Path(best["path"]).name == "photo3.jpg" and best["similarity"] > 0.999
    thumbnail = client.get(best["reference"])
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"
    assert client.get("/v1/references/99").status_code == 404


def test_similar_searches_an_index_through_its_graph(photos: Path, tmp_path: Path) -> None:
    """An index built with --ann is searched through its HNSW graph, as `artkit similar`
    does: the same neighbours as the API's search of it."""
    pytest.importorskip("usearch")
    import artkit
    from artkit.api.embed import build_index
    from artkit.identification.collection import Collection

    graphed = build_index(photos, None, tmp_path / "graphed.npz", ann=True, progress=False)
    assert graphed.graph is not None and Collection(graphed.path)._graph is not None
    offline = artkit.similar([photos / "photo3.jpg"], graphed.path, top_k=3, progress=False)
    config = ServeConfig(index=graphed.path, port=free_port(), max_wait_ms=1.0)
    with running(config) as url, httpx.Client(base_url=url, timeout=60) as session:
        served = post(session, "/v1/similar", (photos / "photo3.jpg").read_bytes()).json()
    # the API leaves a query that is in the index out of its own neighbours; the service,
    # given bytes, cannot know it is
    assert Path(served["neighbours"][0]["path"]).name == "photo3.jpg"
    assert [Path(n["path"]).name for n in served["neighbours"][1:]] == \
        [p.name for p, _ in offline[0].neighbours[:2]]


def test_models_health_metrics_openapi_and_page(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    assert sorted(models["models"]) == ["detect", "predict", "similar"]
    assert models["models"]["predict"]["labels"] == ["background", "painting"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    assert post(client, "/v1/predict", jpeg()).status_code == 200  # counted, whatever ran before
    metrics = client.get("/metrics")
    assert "artkit_batch_size_bucket" in metrics.text
    assert 'artkit_requests_total{path="/v1/predict",status="200"}' in metrics.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/detect", "/v1/similar", "/v1/models"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text and "http" not in \
        page.text.split("<body")[0].replace("http-equiv", "")  # no CDN in the head
    assert client.get("/page/page.js").status_code == 200
    assert client.get("/page/..%2Fapp.py").status_code == 404


def test_concurrent_requests_share_batches(client: httpx.Client, photos: Path) -> None:
    data = (photos / "photo0.jpg").read_bytes()
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: post(client, "/v1/predict", data), range(24)))
    assert [a.status_code for a in answers] == [200] * 24
    assert len({json.dumps(a.json()["scores"], sort_keys=True) for a in answers}) == 1
    text = client.get("/metrics").text
    count = sum(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith('artkit_batch_size_count{model="predict"}'))
    assert count < 24 + 2  # some of the 24 (+ the earlier ones) ran in one batch


# -- protection --------------------------------------------------------------------------------
HOSTILE = {
    "empty": (b"", "e.jpg", "image/jpeg", 422),
    "truncated JPEG": (jpeg()[:600], "t.jpg", "image/jpeg", 422),
    "text as JPEG": (b"just some text, not a photo" * 10, "notes.jpg", "image/jpeg", 415),
    "corrupt PNG": (png_bomb(64, 64)[:40] + b"\x00garbage" * 20, "c.png", "image/png", 422),
    "30000x30000 PNG bomb": (png_bomb(), "bomb.png", "image/png", 413),
    "oversize body": (os.urandom(1_200_000), "big.jpg", "image/jpeg", 413),
    "HTML upload": (b"<html><script>alert(1)</script></html>", "x.html", "text/html", 415),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_uploads_get_a_4xx(client: httpx.Client, case: str) -> None:
    data, name, kind, status = HOSTILE[case]
    began = time.perf_counter()
    response = post(client, "/v1/detect", data, name, kind)
    assert response.status_code == status, response.text
    one_line_error(response)
    assert time.perf_counter() - began < 2.0  # refused from the header, not decoded
    assert client.get("/healthz").status_code == 200


def test_content_is_sniffed_and_file_names_are_only_labels(client: httpx.Client) -> None:
    response = post(client, "/v1/predict", jpeg(), "../../../etc/passwd", "text/plain")
    assert response.status_code == 200
    assert response.json()["path"] == "passwd"
    response = post(client, "/v1/predict", jpeg(), "C:\\Windows\\win.ini", "application/pdf")
    assert response.json()["path"] == "win.ini"


def test_malformed_requests_get_one_line_errors(client: httpx.Client) -> None:
    broken = client.post("/v1/detect", content=b"--xx\r\nnot a part\r\n",
                         headers={"Content-Type": "multipart/form-data; boundary=xx"})
    assert broken.status_code == 400
    one_line_error(broken)
    missing = client.post("/v1/detect", data={"other": "1"})
    assert missing.status_code == 400 and "file" in one_line_error(missing)
    head = (b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n")
    chunked = client.post("/v1/detect", content=iter([head] + [b"x" * 600_000] * 3),
                          headers={"Content-Type": "multipart/form-data; boundary=xx"})
    assert chunked.status_code == 413
    assert client.get("/nowhere").status_code == 404
    assert client.get("/v1/predict").status_code == 405


def test_the_token_is_required(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = anonymous.post("/v1/predict", headers=headers,
                                      files={"file": ("a.jpg", jpeg(), "image/jpeg")})
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            one_line_error(response)
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/").status_code == 200


def test_no_cors_unless_asked(client: httpx.Client) -> None:
    response = client.get("/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_binding_beyond_loopback_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from artkit.cli.main import app
    from artkit.cli.serve.auth import check_bind
    from artkit.errors import ArtkitError

    monkeypatch.delenv("ARTKIT_SERVE_TOKEN", raising=False)
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, None)
    check_bind("0.0.0.0", "a-token")
    with pytest.raises(ArtkitError, match="refusing to bind 0.0.0.0"):
        check_bind("0.0.0.0", None)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code != 0 and "refusing to bind" in result.output


# -- load ----------------------------------------------------------------------------------------
def test_a_full_queue_answers_503_with_retry_after() -> None:
    config = ServeConfig(port=free_port(), max_queue=1, max_batch=8, max_wait_ms=400)
    with running(config) as url, httpx.Client(base_url=url, timeout=30) as session:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: post(session, "/v1/detect", jpeg()), range(6)))
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) == {200, 503} and statuses.count(200) >= 1
        refused = next(a for a in answers if a.status_code == 503)
        assert int(refused.headers["Retry-After"]) >= 1
        one_line_error(refused)
        assert session.get("/healthz").status_code == 200


def test_sigterm_answers_the_accepted_requests_then_exits(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "artkit", "serve", "--port", str(port), "--max-wait-ms",
         "3000", "--max-batch", "64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "ARTKIT_SERVE_TOKEN": ""})
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as session:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                with contextlib.suppress(httpx.TransportError):
                    if session.get("/readyz").status_code == 200:
                        break
                assert time.monotonic() < deadline
                time.sleep(0.1)
            with ThreadPoolExecutor(4) as pool:
                pending = [pool.submit(post, session, "/v1/detect", jpeg(seed=s))
                           for s in range(4)]
                time.sleep(1.0)  # admitted, waiting for their batch (3 s)
                process.send_signal(signal.SIGTERM)
                answers = [f.result() for f in pending]
        assert [a.status_code for a in answers] == [200] * 4
        # uvicorn re-raises the signal once it has shut down cleanly: the conventional status
        assert process.wait(timeout=30) == -signal.SIGTERM
        log = process.stderr.read().decode()  # type: ignore[union-attr]
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert sum(line["path"] == "/v1/detect" and line["status"] == 200
                   for line in lines) == 4
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- parts ---------------------------------------------------------------------------------------
def test_micro_batcher_gathers_bounds_and_passes_errors() -> None:
    import asyncio

    from artkit.cli.serve.batching import MicroBatcher, Overloaded

    sizes: list[int] = []

    def run(items: list[int]) -> list[object]:
        sizes.append(len(items))
        return [ValueError("odd") if item % 2 else item * 10 for item in items]

    async def main() -> None:
        batcher = MicroBatcher("test", run, max_batch=4, max_wait=0.05, capacity=5)
        batcher.start()

        async def one(item: int) -> object:
            with batcher.slot():
                try:
                    return await batcher.submit(item)
                except ValueError as exc:
                    return str(exc)

        results = await asyncio.gather(*(one(i) for i in range(5)))
        assert results == [0, "odd", 20, "odd", 40]
        assert sizes == [4, 1]
        with batcher.slot(), batcher.slot(), batcher.slot(), batcher.slot(), batcher.slot():
            with pytest.raises(Overloaded):
                with batcher.slot():
                    pass
        await batcher.close()

    asyncio.run(main())


def test_limits_sniff_and_read_headers_only() -> None:
    from artkit.cli.serve.limits import ClientError, check_upload, display_name

    assert check_upload(jpeg(), "a.jpg", 10**6).size == (320, 240)
    with pytest.raises(ClientError) as caught:
        check_upload(png_bomb(), "b.png", 10**9)
    assert caught.value.status == 413
    assert display_name("..\\..\\x/y/z.png") == "z.png" and display_name(None) == "upload"
    assert display_name("a\x00b\n.jpg") == "ab.jpg"
    webp = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(webp, "WEBP")
    assert check_upload(webp.getvalue(), "w", 10**6).format == "webp"


# -- Ray Serve -----------------------------------------------------------------------------------
def test_the_same_app_runs_on_ray_serve_replicas() -> None:
    """`--engine ray --replicas 2` on a local Ray instance: the same endpoints, limits and
    token, answered by two replicas behind Ray Serve's proxy."""
    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    from artkit.cli.serve.ray_serve import APP_NAME, start

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = ServeConfig(model=painting_detector(), port=free_port(), token=TOKEN)
        start(config, replicas=2)
        deployment = serve.status().applications[APP_NAME].deployments["artkit"]
        assert deployment.replica_states.get("RUNNING") == 2
        with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", headers=AUTH,
                          timeout=60) as session, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda s: post(session, "/v1/predict", jpeg(seed=s % 3)),
                                    range(16)))
            assert [a.status_code for a in answers] == [200] * 16
            assert answers[0].json()["label"] in ("painting", "background")
            assert post(session, "/v1/detect", b"junk").status_code == 415
            assert httpx.get(f"http://127.0.0.1:{config.port}/v1/models").status_code == 401
    finally:
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()
