"""Motion detection on a camera's luma plane, in numpy, on a small sampled copy of the frame.

Per frame (everything after step 1 works on the small plane, in preallocated arrays):

1. sample every f-th pixel of every f-th row, f chosen so the small plane has about
   `motion.frame_height` rows (f = 7 for 720p: 103 x 183 pixels), and blur it with a 3x3 [1,2,1]
   kernel against sensor noise;
2. compare it with two running averages: a slow background (`frame_alpha`, as Frigate) and a fast
   one (`delta_alpha`, following the last second or so). A pixel moves when it differs by more than
   `threshold` from both, after removing the frame's median difference to each (a global brightness
   shift - auto exposure, a light ramp - is not motion): from the slow one by more than its 5x5
   neighbourhood spans (a camera that drifts or shakes a little is not motion), and from the fast
   one (so a change that stopped - a parked car, the ghost of one that left, a slow pan - stops
   being motion within about a second). The slow test runs over the plane, the fast one only on
   the pixels that passed it; a lone moving pixel (a glint, a compression speck) is dropped.
   With `improve_contrast` the threshold is divided by the gain that would stretch the 4th..96th
   luma percentiles to 0..255 (averaged over the last 50 frames, as Frigate, and capped): a
   low-contrast scene becomes as sensitive as a contrasty one, and comparing raw levels keeps a
   changing stretch from looking like motion;
3. masked pixels and the one-pixel border never move;
4. if more than `lightning_threshold` of the frame moves, or the motion boxes cover more than that
   share of it, it is a lighting change (or the camera was turned): no motion, and both averages
   restart from this frame;
5. otherwise moving pixels are grouped by touching 4x4-pixel cells (8-neighbourhood); each group with
   more than `contour_area` moving small pixels becomes a box in frame pixels;
6. the averages move towards the frame (every other frame, at the equivalent rate); the slow one ten
   times slower where pixels moved, so objects passing through leave no ghost.

The config object is read on every frame: threshold, contour_area, improve_contrast, alphas and
lightning_threshold changed at runtime apply to the next frame; a new frame_height rebuilds the small
plane; a new mask is applied with set_mask(). One detector serves one camera's processing thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from nvrd.geometry import Box, Polygon, box_area, rasterize_polygons

CELL = 4  # small-plane pixels per side of a grouping cell
STATS_STEP = 4  # brightness shift and contrast statistics use every 4th small pixel each way
LOW_PERCENTILE, HIGH_PERCENTILE = 0.04, 0.96
CONTRAST_EVERY = 5  # frames between contrast measurements
CONTRAST_HISTORY = 10  # measurements averaged (10 x 5 = the last 50 frames, as Frigate)
MAX_CONTRAST_GAIN = 10.0  # a nearly flat picture would otherwise turn sensor noise into motion
NEIGHBOURHOOD = 2  # small pixels each way a shaking or drifting camera may move an edge (5x5)
BOUNDS_EVERY = 16  # frames between refreshes of the slow average's neighbourhood bounds
SLOW_EVERY = 2  # frames between updates of the slow average (it moves 1% a frame: no hurry)
FAST_EVERY = 2  # frames between updates of the fast average
SHIFT_TOLERANCE = 0.05  # a brightness shift below this share of the threshold is not subtracted
MOVING_SLOWDOWN = 0.1  # the slow background's rate where pixels move, relative to frame_alpha
NO_PIXELS = np.zeros(0, dtype=np.intp)
BOUND_LIMIT = 20000  # int16 bounds that no sum (at most 4080, shifted by at most as much) crosses
BLUR_GAIN = 16  # the [1,2,1] x [1,2,1] blur sums 16 pixel values; levels stay multiplied by it


class MotionSettings(Protocol):
    """The fields of the `motion` config section this detector reads."""

    threshold: int
    contour_area: int
    frame_height: int
    frame_alpha: float
    delta_alpha: float
    improve_contrast: bool
    lightning_threshold: float
    mask_polygons: list[Polygon]


class MotionDetector:
    """Motion boxes for one camera's frames of `frame_width` x `frame_height` pixels."""

    def __init__(self, frame_width: int, frame_height: int, config: MotionSettings) -> None:
        if frame_width < 8 or frame_height < 8:
            raise ValueError(f"frame too small for motion detection: {frame_width}x{frame_height}")
        self.frame_width = frame_width
        self.frame_height = frame_height
        self.config = config
        self._polygons: list[Polygon] = [list(p) for p in (getattr(config, "mask_polygons", None) or [])]
        self._build(int(config.frame_height))

    # --- setup -------------------------------------------------------------------------------

    def set_mask(self, polygons: Sequence[Polygon]) -> None:
        """Use a new motion mask (polygons in frame pixels); the averages are kept."""
        self._polygons = [list(p) for p in polygons]
        self._build_mask()

    def reset(self) -> None:
        """Forget the averages: the next frame starts them again (and reports no motion)."""
        self._frames = 0

    def _build(self, rows: int) -> None:
        """Allocate everything for a small plane of about `rows` rows."""
        self._rows_wanted = rows
        self.step = max(1, round(self.frame_height / max(1, rows)))
        h = -(-self.frame_height // self.step)
        w = -(-self.frame_width // self.step)
        if h < 3 or w < 3:
            raise ValueError(f"motion frame_height {rows} leaves too small a plane ({w}x{h})")
        self.small_shape = (h, w)
        n = h * w

        def plane(dtype: type = np.float32) -> np.ndarray:
            return np.zeros(n, dtype=dtype)

        # Flat planes: the blur and the neighbourhood bounds add shifted 1-D slices (fast in numpy).
        # int16 holds the blur's sums (at most 16 x 255) and adds and compares faster than float32;
        # the averages are float32 (they move by fractions of a level).
        sums = np.int16
        self._cur, self._h1, self._h2, self._v1 = plane(sums), plane(sums), plane(sums), plane(sums)
        self._summed, self._level = plane(sums), plane(sums)
        self._upper, self._lower = plane(sums), plane(sums)
        self._bounds_scratch = plane()
        self._slow, self._fast = plane(), plane()
        self._scratch = plane()
        self._candidates, self._below, self._moving = plane(bool), plane(bool), plane(bool)
        self._frames = 0
        self._bounds_key: tuple[object, ...] | None = None
        self._lows: list[float] = []
        self._highs: list[float] = []
        self._gain = 1.0
        self._build_mask()

    def _build_mask(self) -> None:
        """Which small-plane pixels may move, and the sparse samples used for statistics."""
        h, w = self.small_shape
        step = self.step
        masked = rasterize_polygons(self._polygons, self.frame_width, self.frame_height)
        usable = ~masked[::step, ::step]  # a small pixel is masked when the frame pixel it samples is
        # The blur wraps across row ends and has no neighbours on the outer rows: leave the border out.
        usable[0, :] = usable[-1, :] = usable[:, 0] = usable[:, -1] = False
        self._usable = usable.reshape(-1).copy()
        self._unusable = ~self._usable
        self.usable_count = int(usable.sum())
        stats = np.zeros((h, w), dtype=bool)
        stats[1:-1:STATS_STEP, 1:-1:STATS_STEP] = True
        stats &= usable
        if not stats.any():  # (nearly) everything masked: measure over the whole plane
            stats[1:-1:STATS_STEP, 1:-1:STATS_STEP] = True
        self._stats_index = np.flatnonzero(stats)
        self._stats_values = np.zeros(self._stats_index.size, dtype=np.float32)
        self._stats_average = np.zeros(self._stats_index.size, dtype=np.float32)
        self._stats_sums = np.zeros(self._stats_index.size, dtype=np.int16)
        self._bounds_key = None

    # --- per frame -----------------------------------------------------------------------------

    def detect(self, y: np.ndarray) -> list[Box]:
        """Motion boxes (x1, y1, x2, y2) in frame pixels for one luma plane of shape (height, width)."""
        if y.shape != (self.frame_height, self.frame_width) or y.dtype != np.uint8:
            raise ValueError(
                f"expected a uint8 luma plane of {self.frame_height}x{self.frame_width}, "
                f"got {y.dtype} {y.shape}"
            )
        config = self.config
        if int(config.frame_height) != self._rows_wanted:
            self._build(int(config.frame_height))
        blur = self._sample_and_blur(y)
        if config.improve_contrast:
            if self._frames % CONTRAST_EVERY == 0:
                self._measure_contrast()
            gain = self._gain
        else:
            gain = 1.0
        threshold = float(config.threshold) * BLUR_GAIN / gain

        self._frames += 1
        if self._frames == 1:
            self._restart(blur)
            return []
        # The bounds follow the slow average every few frames, and at once when the settings change.
        bounds_key = (config.threshold, bool(config.improve_contrast), self._frames // BOUNDS_EVERY)
        if bounds_key != self._bounds_key:
            self._refresh_bounds(threshold)
            self._bounds_key = bounds_key

        if self._frames % FAST_EVERY == 0:
            self._update_fast(blur, float(config.delta_alpha))
        lightning_share = float(config.lightning_threshold)
        lightning_count = lightning_share * self.usable_count
        contour_area = float(config.contour_area)
        moving = NO_PIXELS
        # Moving pixels are a subset of the slow gate's: too few there cannot make a box or lightning.
        if self._slow_gate(blur, threshold) > min(contour_area, lightning_count):
            moving = self._fast_gate(blur, threshold)
        if self._frames % SLOW_EVERY == 0:
            self._update_slow(blur, moving, float(config.frame_alpha))
        if moving.size > lightning_count:
            self._restart(blur)
            return []
        if moving.size <= contour_area:
            return []
        boxes = self._boxes(moving, contour_area)
        # Frigate measures lightning by the area its motion contours cover; boxes come closest.
        if sum(box_area(box) for box in boxes) > lightning_share * self.frame_width * self.frame_height:
            self._restart(blur)
            return []
        return boxes

    def _sample_and_blur(self, y: np.ndarray) -> np.ndarray:
        """The small plane blurred with [1,2,1] x [1,2,1], as int16 sums (levels x16); border invalid."""
        h, w = self.small_shape
        n = h * w
        cur, h1, h2, v1, summed = self._cur, self._h1, self._h2, self._v1, self._summed
        np.copyto(cur.reshape(h, w), y[:: self.step, :: self.step], casting="unsafe")
        # Two [1,1] passes each way make [1,2,1]; on flat planes a shift by w is a shift by one row.
        np.add(cur[:-1], cur[1:], out=h1[:-1])
        np.add(h1[:-2], h1[1:-1], out=h2[1:-1])
        np.add(h2[:-w], h2[w:], out=v1[:-w])
        np.add(v1[: n - 2 * w], v1[w : n - w], out=summed[w : n - w])
        return summed

    def _measure_contrast(self) -> None:
        """Add the blurred small plane's 4th/96th percentiles to the history and update the gain."""
        values = self._stats_sums
        np.take(self._summed, self._stats_index, out=values)
        last = values.size - 1
        low_rank, high_rank = round(LOW_PERCENTILE * last), round(HIGH_PERCENTILE * last)
        values.partition((low_rank, high_rank))
        self._lows.append(float(values[low_rank]))
        self._highs.append(float(values[high_rank]))
        if len(self._lows) > CONTRAST_HISTORY:
            del self._lows[0], self._highs[0]
        spread = (sum(self._highs) / len(self._highs) - sum(self._lows) / len(self._lows)) / BLUR_GAIN
        self._gain = min(MAX_CONTRAST_GAIN, 255.0 / spread) if spread > 0 else MAX_CONTRAST_GAIN

    def _restart(self, blur: np.ndarray) -> None:
        """Start both averages again from this frame (first frame, or a lighting change)."""
        self._frames = 1
        np.copyto(self._slow, blur)
        np.copyto(self._fast, blur)
        self._bounds_key = None

    def _slow_gate(self, blur: np.ndarray, threshold: float) -> int:
        """Mark in `_candidates` the pixels outside the slow average's bounds; count them."""
        shift = self._median_shift(blur, self._slow)
        level = blur
        if abs(shift) > SHIFT_TOLERANCE * threshold:
            level = self._level
            np.subtract(blur, np.int16(round(shift)), out=level)
        candidates, below = self._candidates, self._below
        np.greater(level, self._upper, out=candidates)
        np.less(level, self._lower, out=below)
        np.logical_or(candidates, below, out=candidates)
        return int(np.count_nonzero(candidates))

    def _fast_gate(self, blur: np.ndarray, threshold: float) -> np.ndarray:
        """Flat indices of the slow gate's pixels also off the fast average, with a moving neighbour.

        Only the few candidate pixels are compared: no more passes over the whole plane. A lone pixel
        (a glint, a compression speck) is not motion: the blur spreads any real change over several.
        """
        shift = np.float32(self._median_shift(blur, self._fast))
        candidates = np.flatnonzero(self._candidates)
        level = blur[candidates].astype(np.float32)
        level -= self._fast[candidates]
        level -= shift
        np.abs(level, out=level)
        moving = candidates[level > threshold]
        if moving.size == 0:
            return moving
        plane, w = self._moving, self.small_shape[1]
        plane[moving] = True
        # Border pixels never move, so the neighbours of a moving pixel are inside the plane.
        neighbours = plane[moving - 1] | plane[moving + 1] | plane[moving - w] | plane[moving + w]
        plane[moving] = False
        return moving[neighbours]

    def _median_shift(self, blur: np.ndarray, average: np.ndarray) -> float:
        """The median difference between the frame and an average over the sparse sample.

        That is a global brightness shift (auto exposure, a light ramp), which is not motion.
        """
        values, sums, average_values = self._stats_values, self._stats_sums, self._stats_average
        np.take(blur, self._stats_index, out=sums)
        np.take(average, self._stats_index, out=average_values)
        np.subtract(sums, average_values, out=values)
        middle = values.size // 2
        values.partition(middle)
        return float(values[middle])

    def _update_fast(self, blur: np.ndarray, alpha: float) -> None:
        """Move the fast average towards the frame (every FAST_EVERY frames)."""
        step = self._scratch
        np.subtract(blur, self._fast, out=step)
        # The same average as updating every frame with `alpha`, for a static picture.
        np.multiply(step, np.float32(1.0 - (1.0 - alpha) ** FAST_EVERY), out=step)
        np.add(self._fast, step, out=self._fast)

    def _refresh_bounds(self, threshold: float) -> None:
        """The slow average's neighbourhood max + threshold and min - threshold (masked: never moves).

        Stored as int16 so that the per-frame comparisons with the int16 sums stay in one type; for
        whole levels L, L > x is L > floor(x) and L < x is L < ceil(x).
        """
        w = self.small_shape[1]
        span = self._scratch
        for combine, bound, offset, rounding in (
            (np.maximum, self._upper, threshold, np.floor),
            (np.minimum, self._lower, -threshold, np.ceil),
        ):
            neighbourhood(self._slow, w, NEIGHBOURHOOD, combine, span, self._bounds_scratch)
            np.add(span, np.float32(offset), out=span)
            rounding(span, out=span)
            np.clip(span, -BOUND_LIMIT, BOUND_LIMIT, out=span)
            np.copyto(bound, span, casting="unsafe")
        np.copyto(self._upper, BOUND_LIMIT, where=self._unusable)
        np.copyto(self._lower, -BOUND_LIMIT, where=self._unusable)

    def _update_slow(self, blur: np.ndarray, moving: np.ndarray, alpha: float) -> None:
        """Move the slow average towards the frame (every SLOW_EVERY frames); slower where pixels move."""
        step = self._scratch
        np.subtract(blur, self._slow, out=step)
        # The same average as updating every frame with `alpha`, for a static picture.
        np.multiply(step, np.float32(1.0 - (1.0 - alpha) ** SLOW_EVERY), out=step)
        if moving.size:
            step[moving] *= np.float32(MOVING_SLOWDOWN)
        np.add(self._slow, step, out=self._slow)

    def _boxes(self, moving: np.ndarray, contour_area: float) -> list[Box]:
        """Group moving small pixels (flat indices) by touching 4x4 cells; boxes of big enough groups."""
        h, w = self.small_shape
        cells_per_row = -(-w // CELL)
        rows, cols = np.divmod(moving, w)
        counts = np.bincount((rows // CELL) * cells_per_row + cols // CELL,
                             minlength=-(-h // CELL) * cells_per_row).reshape(-1, cells_per_row)  # fmt: skip
        step = self.step
        plane = self._moving
        plane[moving] = True
        grid = plane.reshape(h, w)
        boxes: list[Box] = []
        for row0, row1, col0, col1, area in cell_groups(counts):
            if area <= contour_area:
                continue
            # The group's cells bound it; the moving pixels inside give the tight box.
            r0, c0 = row0 * CELL, col0 * CELL
            inside = grid[r0 : (row1 + 1) * CELL, c0 : (col1 + 1) * CELL]
            used_rows = np.flatnonzero(inside.any(axis=1))
            used_cols = np.flatnonzero(inside.any(axis=0))
            # One small pixel of margin each way: the blur spreads a change over its neighbours.
            x1 = max(0, (c0 + int(used_cols[0]) - 1) * step)
            y1 = max(0, (r0 + int(used_rows[0]) - 1) * step)
            x2 = min(self.frame_width, (c0 + int(used_cols[-1]) + 2) * step)
            y2 = min(self.frame_height, (r0 + int(used_rows[-1]) + 2) * step)
            boxes.append((x1, y1, x2, y2))
        plane[moving] = False
        return boxes


def cell_groups(counts: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Groups of touching (8-neighbourhood) non-zero cells of a grid of counts.

    Returns (first row, last row, first column, last column, summed count) per group. Works on runs
    of cells along rows, joined across rows with a union-find: few runs even for large groups.
    """
    rows_count, cols_count = counts.shape
    padded = np.zeros((rows_count, cols_count + 2), dtype=np.int8)
    padded[:, 1:-1] = counts > 0
    edges = np.diff(padded, axis=1)
    run_rows, run_starts = np.nonzero(edges == 1)
    run_ends = np.nonzero(edges == -1)[1]  # exclusive; same row-major order as the starts
    prefix = np.zeros((rows_count, cols_count + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=prefix[:, 1:])
    sums = (prefix[run_rows, run_ends] - prefix[run_rows, run_starts]).tolist()
    run_rows_list, starts, ends = run_rows.tolist(), run_starts.tolist(), run_ends.tolist()

    parent = list(range(len(starts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous_row_runs: list[int] = []
    current_row = -1
    current_row_runs: list[int] = []
    for run, row in enumerate(run_rows_list):
        if row != current_row:
            previous_row_runs = current_row_runs if row == current_row + 1 else []
            current_row, current_row_runs = row, []
        for other in previous_row_runs:
            # Diagonal contact counts: runs touch when they overlap after widening by one cell.
            if starts[other] <= ends[run] and ends[other] >= starts[run]:
                a, b = root(run), root(other)
                if a != b:
                    parent[a] = b
        current_row_runs.append(run)

    groups: dict[int, list[int]] = {}
    for run in range(len(starts)):
        r = root(run)
        row = run_rows_list[run]
        group = groups.get(r)
        if group is None:
            groups[r] = [row, row, starts[run], ends[run] - 1, sums[run]]
        else:
            group[0] = min(group[0], row)
            group[1] = max(group[1], row)
            group[2] = min(group[2], starts[run])
            group[3] = max(group[3], ends[run] - 1)
            group[4] += sums[run]
    return [(g[0], g[1], g[2], g[3], g[4]) for g in groups.values()]


def neighbourhood(
    plane: np.ndarray, width: int, radius: int, combine: np.ufunc, out: np.ndarray, scratch: np.ndarray
) -> None:
    """`combine` (np.maximum or np.minimum) over the (2r+1)^2 window around each pixel of a flat plane.

    Windows are cut at the top and bottom; along rows they run into the neighbouring row's end, which
    only widens the span at the left and right edges.
    """
    n = plane.size
    np.copyto(scratch, plane)
    for k in range(1, radius + 1):
        combine(scratch[k:], plane[:-k], out=scratch[k:])
        combine(scratch[:-k], plane[k:], out=scratch[:-k])
    np.copyto(out, scratch)
    for k in range(width, radius * width + 1, width):
        combine(out[k:], scratch[: n - k], out=out[k:])
        combine(out[: n - k], scratch[k:], out=out[: n - k])
