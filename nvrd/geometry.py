"""Boxes and polygons in frame pixels: zones, masks, regions.

Boxes are `(x1, y1, x2, y2)` integer tuples, inclusive-exclusive like numpy slices.
Polygons are lists of `(x, y)` integer points in detect-frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[int, int, int, int]
Point = tuple[int, int]
Polygon = list[Point]


def parse_polygon(value: str | Sequence[str] | Sequence[int]) -> Polygon:
    """Parse Frigate's coordinate forms: "x1,y1,x2,y2,..." or ["x1,y1", "x2,y2", ...].

    Raises ValueError with a reason when the numbers are odd in count, not integers or negative,
    or when there are fewer than three points.
    """
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    else:
        parts = []
        for item in value:
            parts.extend(p.strip() for p in str(item).split(","))
    parts = [p for p in parts if p != ""]
    try:
        numbers = [int(float(p)) for p in parts]
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"coordinates must be integers, got {value!r}") from exc
    if len(numbers) % 2:
        raise ValueError("coordinates must be x,y pairs (an odd count of numbers was given)")
    if any(n < 0 for n in numbers):
        raise ValueError("coordinates must not be negative")
    points = [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    return points


def point_in_polygon(point: tuple[float, float], polygon: Polygon) -> bool:
    """True when the point is inside the polygon or on its edge (even-odd rule)."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        # On an edge counts as inside: Frigate's zone test (cv2.pointPolygonTest >= 0) does so.
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return True
        if (y1 > y) != (y2 > y):
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_at_y:
                inside = not inside
    return inside


def rasterize_polygons(polygons: Sequence[Polygon], width: int, height: int) -> np.ndarray:
    """A (height, width) bool array, True inside any of the polygons (pixel centres tested)."""
    mask = np.zeros((height, width), dtype=bool)
    if not polygons:
        return mask
    ys = np.arange(height, dtype=np.float64) + 0.5
    xs = np.arange(width, dtype=np.float64) + 0.5
    for polygon in polygons:
        inside = np.zeros((height, width), dtype=bool)
        n = len(polygon)
        for i in range(n):
            x1, y1 = polygon[i]
            x2, y2 = polygon[(i + 1) % n]
            if y1 == y2:
                continue
            rows = (ys >= min(y1, y2)) & (ys < max(y1, y2))
            if not rows.any():
                continue
            x_at = x1 + (ys[rows] - y1) * (x2 - x1) / (y2 - y1)
            inside[rows] ^= xs[None, :] < x_at[:, None]
        mask |= inside
    return mask


def box_area(box: Box) -> int:
    """Area in pixels of a box."""
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def intersection_over_union(a: Box, b: Box) -> float:
    """IoU of two boxes, 0.0 when they do not overlap."""
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, ix2 - ix1) * max(0, iy2 - iy1)
    if inter == 0:
        return 0.0
    return inter / float(box_area(a) + box_area(b) - inter)


def bottom_centre(box: Box) -> tuple[float, float]:
    """The point Frigate tests against zones and object masks: (centre x, bottom y)."""
    return ((box[0] + box[2]) / 2.0, float(box[3]))
