"""Store benchmark: 10,000 realistic events in a real SQLite file, then the /api/events query.

The API's target is p99 <= 5 ms end to end for `/api/events`; the query itself should take a small
part of that. Run: `.venv/bin/python tests/bench/bench_store.py` (or through the lead's runner).
"""

from __future__ import annotations

import base64
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from nvrd.imaging import rgb_to_frame, thumbnail_jpeg
from nvrd.store import EventQuery, Store

EVENTS = 10_000
QUERIES = 300
SHARED = Path(os.environ.get("NVR_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared"))
CAMERAS = ("front", "back", "side", "garage")
LABELS = ("person", "car", "dog", "cat")
ZONES = ("yard", "driveway", "porch", "street")


def _real_thumbnail() -> str:
    """A base64 thumbnail made from the shared traffic photo, the size the API really serves."""
    with Image.open(SHARED / "media" / "traffic_0001_960x540.bmp") as image:
        frame = rgb_to_frame(np.asarray(image.convert("RGB")))
    return base64.b64encode(thumbnail_jpeg(frame, (240, 280, 560, 480))).decode("ascii")


def _event(i: int, rng: random.Random, thumbnail: str) -> dict:
    start = 1_700_000_000.0 + i * 37.3
    return {
        "id": f"{start}-{i:06d}",
        "label": rng.choice(LABELS),
        "camera": rng.choice(CAMERAS),
        "start_time": start,
        "end_time": None if i >= EVENTS - 3 else start + rng.uniform(5, 120),
        "zones": rng.sample(ZONES, rng.randint(0, 2)),
        "thumbnail": thumbnail,
        "has_clip": rng.random() < 0.8,
        "has_snapshot": True,
        "false_positive": False,
        "retain_indefinitely": rng.random() < 0.05,
        "model_hash": "5a1e0c5d0f4bb7b0b1dc7c8b0f1b6c9e",
        "model_type": "ssd",
        "detector_type": "cpu",
        "data": {
            "type": "object",
            "score": round(rng.uniform(0.5, 0.99), 3),
            "top_score": round(rng.uniform(0.7, 0.99), 3),
            "box": [0.34, 0.25, 0.06, 0.2],
            "region": [0.21, 0.15, 0.25, 0.44],
            "attributes": [],
        },
    }


def _percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def _time_query(store: Store, query: EventQuery) -> tuple[float, float]:
    for _ in range(10):  # warm the page cache and the statement cache
        store.query_events(query)
    samples = []
    for _ in range(QUERIES):
        begin = time.perf_counter()
        rows = store.query_events(query)
        samples.append((time.perf_counter() - begin) * 1000)
        assert rows, "the benchmark query matched nothing"
    return _percentiles(samples)


def run() -> list[tuple[str, float, str, str]]:
    rng = random.Random(1234)
    thumbnail = _real_thumbnail()
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp, Store(Path(tmp) / "nvrd.db") as store:
        begin = time.perf_counter()
        for i in range(EVENTS):
            store.upsert_event(_event(i, rng, thumbnail))
        insert_ms = (time.perf_counter() - begin) * 1000 / EVENTS

        default_p50, default_p99 = _time_query(store, EventQuery(limit=100))
        bare_p50, bare_p99 = _time_query(store, EventQuery(limit=100, include_thumbnails=False))
        _, filtered_p99 = _time_query(
            store, EventQuery(cameras=["front", "back"], labels=["person"], zones=["yard"], has_clip=1)
        )
        return [
            ("store upsert_event (10k rows, with thumbnail)", insert_ms, "ms", "<= 1"),
            ("store query_events limit=100 p50", default_p50, "ms", "<= 1.5"),
            ("store query_events limit=100 p99", default_p99, "ms", "<= 2.5"),
            ("store query_events limit=100 no thumbnails p50", bare_p50, "ms", "<= 1"),
            ("store query_events limit=100 no thumbnails p99", bare_p99, "ms", "<= 2"),
            ("store query_events cameras+labels+zones+has_clip p99", filtered_p99, "ms", "<= 2.5"),
        ]


if __name__ == "__main__":
    for name, value, unit, target in run():
        print(f"{name:55s} {value:8.3f} {unit:3s} (target {target})")
