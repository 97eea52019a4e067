"""Load test of `artkit serve` on 127.0.0.1: throughput against offline predict, latency,
errors by status, RSS over time, a 2x overload and SIGTERM under load.

    .venv/bin/python benchmarks/bench_serve.py [--model X.onnx] [--files 64] [--seconds 15]

The photos are real-size JPEGs (synthetic gallery rooms, `--side` pixels wide); the model
is the classifier given (default: the bundled painting detector, MobileNet alpha 0.25 at
128 px, "the small model"). Every phase is bounded in time and count; the server is a
child process bound to 127.0.0.1 only. The client is raw HTTP/1.1 on asyncio (one
keep-alive connection per client, request bytes built once), so the load generator costs
the server as little CPU as possible on a small machine.

Phases, in one run:
1. offline: ``artkit.load(model).predict(files)`` on the same files, images/s;
2. capacity: `--clients` closed-loop clients for `--seconds`: throughput, p50/p95/p99,
   statuses; served / offline throughput;
3. half capacity: open-loop arrivals at half the measured throughput: p50/p95/p99 (the
   goal is p99 <= 4x p50);
4. overload: open-loop arrivals at 2x the measured throughput: statuses (only 200 and
   503 expected), RSS at the start and the end of the phase;
5. SIGTERM under load: the clients running, SIGTERM sent: requests answered, refused at
   connect, and reset without an answer (the goal: none of them accepted and unanswered);
   the server's exit status and its access log's count of answers.

Prints one JSON document (and writes it to `--output` if given).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

BOUNDARY = "artkitbench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_bytes(path: Path, port: int, close: bool = False) -> bytes:
    """One POST /v1/predict with `path` as the multipart file, ready to send."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
    body = head + path.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()
    return (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


class Client:
    """One keep-alive HTTP/1.1 connection that sends prepared requests."""

    #: Reconnect after this long idle: uvicorn closes keep-alive connections idle for 5 s
    #: (as a browser or requests' pool would, never sending on a connection about to close).
    IDLE = 4.0

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def send(self, request: bytes) -> tuple[int, float]:
        """(status, seconds); status -1: refused at connect, -2: reset without an answer."""
        began = time.perf_counter()
        if self.writer is not None and began - self.used > self.IDLE:
            self.close()
        if self.writer is None:
            try:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return -1, time.perf_counter() - began
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(request)
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            fields = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            await self.reader.readexactly(int(fields.get("content-length", "0")))
            if fields.get("connection", "").lower() == "close":
                self.close()
            self.used = time.perf_counter()
            return status, self.used - began
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return -2, time.perf_counter() - began

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def percentiles(seconds: list[float]) -> dict[str, float]:
    if len(seconds) < 2:
        return {}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1)}


def summary(results: list[tuple[int, float]], wall: float) -> dict[str, Any]:
    ok = [s for status, s in results if status == 200]
    statuses = Counter(str(status) for status, _ in results)
    return {"requests": len(results), "seconds": round(wall, 2),
            "throughput_rps": round(len(ok) / wall, 1), "statuses": dict(statuses),
            **percentiles(ok)}


async def closed_loop(port: int, requests: list[bytes], clients: int, seconds: float,
                      max_requests: int, stop: asyncio.Event | None = None
                      ) -> tuple[list[tuple[int, float]], float]:
    results: list[tuple[int, float]] = []
    deadline = time.perf_counter() + seconds

    async def run(k: int) -> None:
        client = Client(port)
        i = k
        while time.perf_counter() < deadline and len(results) < max_requests \
                and not (stop is not None and stop.is_set()):
            results.append(await client.send(requests[i % len(requests)]))
            if stop is not None and results[-1][0] == -1:
                break  # the server stopped listening: this client is done
            i += clients
        client.close()

    began = time.perf_counter()
    await asyncio.gather(*(run(k) for k in range(clients)))
    return results, time.perf_counter() - began


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float,
                    max_requests: int) -> tuple[list[tuple[int, float]], float]:
    """Arrivals at `rate` per second (Poisson), each on an idle or new connection."""
    results: list[tuple[int, float]] = []
    idle: list[Client] = []
    rng = random.Random(0)

    async def one(request: bytes) -> None:
        client = idle.pop() if idle else Client(port)
        results.append(await client.send(request))
        idle.append(client)

    began = time.perf_counter()
    tasks = []
    next_at = began
    for i in range(max_requests):
        next_at += rng.expovariate(rate)
        if next_at - began > seconds:
            break
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(requests[i % len(requests)])))
    await asyncio.gather(*tasks)
    for client in idle:
        client.close()
    return results, time.perf_counter() - began


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self.began = time.perf_counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            value = rss_mb(self.pid)
            if value is None:
                return
            self.samples.append((round(time.perf_counter() - self.began, 1), round(value, 1)))

    def between(self, start: float, end: float) -> list[float]:
        return [mb for t, mb in self.samples if start <= t <= end]


def make_photos(folder: Path, count: int, side: int) -> list[Path]:
    """`count` distinct photo-sized JPEGs: 8 synthetic gallery rooms (rendered small,
    which is fast), scaled to `side` pixels wide, each copy mirrored, shifted and graded."""
    import cv2
    import numpy as np

    from artkit.data.synth import generate

    rooms = sorted(generate(folder / "rooms", task="detection", n=8, seed=7,
                            size=640).rglob("*.jpg"))
    out = folder / "photos"
    out.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        image = cv2.imread(str(rooms[i % len(rooms)]))
        height = round(image.shape[0] * side / image.shape[1])
        image = cv2.resize(image, (side, height), interpolation=cv2.INTER_CUBIC)
        if i // len(rooms) % 2:
            image = image[:, ::-1]
        image = np.roll(image, int(rng.integers(-40, 40)), axis=1)
        image = cv2.convertScaleAbs(image, alpha=float(rng.uniform(0.85, 1.15)),
                                    beta=float(rng.uniform(-15, 15)))
        noise = rng.normal(0, 4, image.shape)  # sensor noise: JPEG sizes of real photos
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
        path = out / f"photo{i:03d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def start_server(model: Path, port: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [sys.executable, "-m", "artkit", "serve", "--model", str(model), "--port",
               str(port), "--max-batch", str(args.max_batch), "--max-wait-ms",
               str(args.max_wait_ms), "--max-queue", str(args.max_queue)]
    log = open(args.log, "w") if args.log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                               env={**os.environ, "ARTKIT_SERVE_TOKEN": ""})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if b" 200 " in s.recv(100):
                return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not become ready")


def offline(model: Path, photos: list[Path], repeat: int) -> dict[str, Any]:
    import artkit

    loaded = artkit.load(model)
    list(loaded.predict(photos[:8], progress=False))  # warm up
    began = time.perf_counter()
    done = sum(p.ok for _ in range(repeat) for p in loaded.predict(photos, progress=False))
    wall = time.perf_counter() - began
    return {"images": done, "seconds": round(wall, 2), "throughput_ips": round(done / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--side", type=int, default=1600, help="photo width in pixels")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="per load phase")
    parser.add_argument("--max-requests", type=int, default=20000, help="per load phase")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--log", type=Path, default=None, help="the server's stderr")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    from artkit.bundled import painting_detector

    model = args.model or painting_detector()
    report: dict[str, Any] = {"model": str(model), "clients": args.clients,
                              "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="artkit-bench-serve-") as tmp:
        photos = make_photos(Path(tmp) / "photos", args.files, args.side)
        report["photos"] = {"count": len(photos), "side": args.side, "mean_kb": round(
            sum(p.stat().st_size for p in photos) / len(photos) / 1024, 1)}
        report["offline"] = offline(model, photos, max(1, 512 // len(photos)))
        if args.log is None:
            args.log = Path(tmp) / "server.log"
        port = free_port()
        process = start_server(model, port, args)
        sampler = RssSampler(process.pid)
        sampler.start()
        requests = [request_bytes(p, port) for p in photos]
        try:
            asyncio.run(closed_loop(port, requests, 4, 2.0, 200))  # warm up
            t0 = time.perf_counter() - sampler.began
            results, wall = asyncio.run(closed_loop(port, requests, args.clients,
                                                    args.seconds, args.max_requests))
            capacity = summary(results, wall)
            capacity["served_over_offline"] = round(
                capacity["throughput_rps"] / report["offline"]["throughput_ips"], 3)
            report["capacity"] = capacity
            rate = capacity["throughput_rps"]
            half = summary(*asyncio.run(open_loop(port, requests, rate / 2, args.seconds,
                                                  args.max_requests)))
            if "p50_ms" in half:
                half["p99_over_p50"] = round(half["p99_ms"] / half["p50_ms"], 2)
            report["half_capacity"] = {"rate_rps": round(rate / 2, 1), **half}
            t1 = time.perf_counter() - sampler.began
            over = summary(*asyncio.run(open_loop(port, requests, rate * 2, args.seconds,
                                                  args.max_requests)))
            t2 = time.perf_counter() - sampler.began
            during = sampler.between(t1, t2)
            report["overload"] = {"rate_rps": round(rate * 2, 1), **over,
                                  "only_200_and_503": set(over["statuses"]) <= {"200", "503"},
                                  "rss_mb_start_end_max": [during[0], during[-1], max(during)]
                                  if during else None}
            report["rss_mb"] = {"before_load": sampler.between(0, t0)[-1:],
                                "max": max(mb for _, mb in sampler.samples),
                                "samples": sampler.samples[::4]}
            time.sleep(0.5)  # the server logs an answer just after sending it
            before = answers_logged(args.log)
            report["sigterm"] = sigterm_under_load(process, port, photos, args.clients)
            report["sigterm"]["server_answered_in_log"] = answers_logged(args.log) - before
        finally:
            sampler.stopping.set()
            if process.poll() is None:
                process.kill()
                process.wait()
    text = json.dumps(report, indent=1)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


def answers_logged(log: Path) -> int:
    """The server's access-log lines of answered predictions so far."""
    return sum('"path": "/v1/predict", "status": 200' in line
               for line in log.read_text().splitlines())


def sigterm_under_load(process: subprocess.Popen, port: int, photos: list[Path],
                       clients: int) -> dict[str, Any]:
    """The clients (a new connection per request, so a refusal is clean) running for a
    second, SIGTERM, then every client's requests until the server is gone."""
    requests = [request_bytes(p, port, close=True) for p in photos]

    async def run() -> list[tuple[int, float]]:
        stop = asyncio.Event()

        async def terminate() -> None:
            await asyncio.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            await asyncio.get_running_loop().run_in_executor(None, process.wait, 60)
            stop.set()

        killer = asyncio.create_task(terminate())
        results, _ = await closed_loop(port, requests, clients, 30.0, 10**6, stop)
        await killer
        return results

    results = asyncio.run(run())
    statuses = Counter(status for status, _ in results)
    return {"exit_status": process.returncode, "requests": len(results),
            "answered": {str(k): v for k, v in statuses.items() if k > 0},
            "refused_at_connect": statuses.get(-1, 0),
            "reset_without_answer": statuses.get(-2, 0)}


if __name__ == "__main__":
    main()
