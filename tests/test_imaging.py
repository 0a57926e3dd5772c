"""JPEG/PNG rendering of I420 frames, on real photos from ../shared/media."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nvrd.frame import Frame
from nvrd.imaging import (
    DrawBox,
    DrawPolygon,
    black_jpeg,
    crop_frame,
    decode_jpeg_to_frame,
    encode_jpeg,
    encode_png,
    frame_to_rgb,
    pad_to_aspect_2_1,
    resize_planes,
    rgb_to_frame,
    snapshot_crop_region,
    thumbnail_jpeg,
)


@pytest.fixture(scope="module")
def media(shared_dir: Path) -> Path:
    return shared_dir / "media"


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def traffic(media: Path) -> Frame:
    """The 960x540 highway photo as a camera frame."""
    return rgb_to_frame(load_rgb(media / "traffic_0001_960x540.bmp"), "road", frame_time=1_700_000_000.0)


@pytest.fixture(scope="module")
def hopper_rgb(media: Path) -> np.ndarray:
    return load_rgb(media / "grace_hopper.bmp")  # 512x600 portrait


def decode(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB"))


def gray_frame(width: int = 640, height: int = 360, level: int = 126) -> Frame:
    return rgb_to_frame(np.full((height, width, 3), level, dtype=np.uint8))


# --- encoding and colour -------------------------------------------------------------------------


def test_jpeg_has_the_frame_size(traffic: Frame):
    picture = decode(encode_jpeg(traffic))
    assert picture.shape == (540, 960, 3)


def test_photo_round_trips_within_tolerance(hopper_rgb: np.ndarray):
    frame = rgb_to_frame(hopper_rgb)
    assert (frame.width, frame.height) == (512, 600)
    back = decode(encode_jpeg(frame, quality=95)).astype(int)
    error = np.abs(back - hopper_rgb.astype(int))
    assert error.mean() < 3.0
    assert np.percentile(error, 99) < 20  # edges lose a little to 4:2:0 chroma


@pytest.mark.parametrize(
    "colour",
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (128, 128, 128), (250, 180, 20)],
)
def test_solid_colours_survive(colour: tuple[int, int, int]):
    rgb = np.zeros((64, 96, 3), dtype=np.uint8)
    rgb[:, :] = colour
    back = decode(encode_jpeg(rgb_to_frame(rgb), quality=90)).astype(int)
    assert np.abs(back[16:48, 16:80] - np.array(colour)).max() <= 6


def test_black_frame_is_black():
    back = decode(encode_jpeg(Frame.blank("cam", 320, 180)))
    assert back.max() <= 2


def test_png_is_the_clean_frame(traffic: Frame, media: Path):
    with Image.open(io.BytesIO(encode_png(traffic))) as image:
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (960, 540)
        assert np.array_equal(np.asarray(image), frame_to_rgb(traffic))
    original = load_rgb(media / "traffic_0001_960x540.bmp").astype(int)
    assert np.abs(frame_to_rgb(traffic).astype(int) - original).mean() < 3.0


def test_decode_jpeg_to_frame(traffic: Frame, media: Path):
    frame = decode_jpeg_to_frame(encode_jpeg(traffic, quality=95), camera="road")
    assert (frame.camera, frame.width, frame.height) == ("road", 960, 540)
    assert np.abs(frame.y.astype(int) - traffic.y.astype(int)).mean() < 2.0
    with open(media / "pets.jpg", "rb") as f:
        pets = decode_jpeg_to_frame(f.read())
    assert (pets.width, pets.height) == (512, 430)
    with pytest.raises(ValueError, match="not a JPEG"):
        decode_jpeg_to_frame(b"GIF89a not a jpeg")


def test_bad_arguments_are_clear_errors(traffic: Frame):
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(traffic, quality=101)
    assert decode(encode_jpeg(traffic, quality=0)).shape == (540, 960, 3)  # OpenCV's range, as Frigate
    with pytest.raises(ValueError, match="invalid height"):
        encode_jpeg(traffic, height=0)
    with pytest.raises(ValueError, match="does not overlap"):
        encode_jpeg(traffic, crop=(2000, 2000, 2100, 2100))
    with pytest.raises(ValueError, match="mask shape"):
        encode_jpeg(traffic, mask=np.zeros((10, 10), dtype=bool))
    with pytest.raises(ValueError, match="invalid height"):
        resize_planes(traffic, 0)
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_frame(np.zeros((10, 10), dtype=np.uint8))


# --- sizes, crops, resizes -------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(270, 480), (175, 311), (720, 1280), (1, 2)])
def test_height_resizes_keeping_aspect(traffic: Frame, height: int, width: int):
    assert decode(encode_jpeg(traffic, height=height)).shape[:2] == (height, width)


def test_resize_planes_even_sizes(traffic: Frame):
    for height in (175, 270, 361, 1080):
        small = resize_planes(traffic, height)
        assert small.width % 2 == 0 and small.height % 2 == 0
        assert abs(small.height - height) <= 1
        assert abs(small.width / small.height - 960 / 540) < 0.02
        assert small.data.size == small.width * small.height * 3 // 2
    half = resize_planes(traffic, 270)
    # Area averaging of the planes: the half-size luma is the 2x2 mean of the original.
    expected = traffic.y.reshape(270, 2, 480, 2).mean(axis=(1, 3))
    assert np.abs(half.y.astype(float) - expected).max() <= 1.0


def test_crop_frame_is_even_aligned_and_matches_the_source(traffic: Frame):
    part = crop_frame(traffic, (101, 51, 400, 300))
    assert (part.width, part.height) == (300, 250)
    assert np.array_equal(part.y, traffic.y[50:300, 100:400])
    assert np.array_equal(part.u, traffic.u[25:150, 50:200])
    assert np.array_equal(part.v, traffic.v[25:150, 50:200])
    edge = crop_frame(traffic, (900, 500, 2000, 2000))
    assert (edge.width, edge.height) == (60, 40)


def test_crop_region_rules():
    assert snapshot_crop_region((600, 300, 650, 380), 1280, 720) == (475, 190, 775, 490)  # min 300
    region = snapshot_crop_region((400, 200, 800, 600), 1280, 720)  # 400 px box → 440
    assert region[2] - region[0] == 440 and region[3] - region[1] == 440
    assert region == (380, 180, 820, 620)
    # Near an edge the square is shifted inside the frame, not shrunk.
    assert snapshot_crop_region((0, 0, 20, 20), 1280, 720) == (0, 0, 300, 300)
    assert snapshot_crop_region((1270, 700, 1280, 720), 1280, 720) == (980, 420, 1280, 720)
    # A frame smaller than the square caps each axis.
    assert snapshot_crop_region((10, 10, 50, 50), 200, 150) == (0, 0, 200, 150)
    assert snapshot_crop_region((0, 0, 1200, 700), 1280, 720) == (0, 0, 1280, 720)
    # Rounded down to a multiple of 4: 333 * 1.1 = 366.3 → 364.
    r = snapshot_crop_region((500, 100, 833, 200), 1280, 720)
    assert r[2] - r[0] == 364


@settings(max_examples=300, deadline=None)
@given(
    frame_w=st.integers(2, 2000),
    frame_h=st.integers(2, 2000),
    data=st.data(),
)
def test_crop_region_properties(frame_w: int, frame_h: int, data):
    x1 = data.draw(st.integers(0, frame_w - 1))
    y1 = data.draw(st.integers(0, frame_h - 1))
    x2 = data.draw(st.integers(x1 + 1, frame_w))
    y2 = data.draw(st.integers(y1 + 1, frame_h))
    rx1, ry1, rx2, ry2 = snapshot_crop_region((x1, y1, x2, y2), frame_w, frame_h)
    assert 0 <= rx1 < rx2 <= frame_w and 0 <= ry1 < ry2 <= frame_h
    side = max(300, int(max(x2 - x1, y2 - y1) * 1.1) // 4 * 4)
    assert side % 4 == 0
    assert rx2 - rx1 == min(side, frame_w) and ry2 - ry1 == min(side, frame_h)
    # The region contains the box whenever it is big enough to.
    if side >= x2 - x1 and rx2 - rx1 == side:
        assert rx1 <= x1 and x2 <= rx2
    if side >= y2 - y1 and ry2 - ry1 == side:
        assert ry1 <= y1 and y2 <= ry2


def test_thumbnail_is_175_tall_around_the_object(traffic: Frame, media: Path):
    box = (240, 280, 560, 480)  # the dark sedan
    thumb = decode(thumbnail_jpeg(traffic, box))
    assert thumb.shape[:2] == (175, 175)
    region = snapshot_crop_region(box, 960, 540)
    reference = np.asarray(
        Image.fromarray(frame_to_rgb(traffic)[region[1] : region[3], region[0] : region[2]]).resize(
            (175, 175), Image.Resampling.BOX
        )
    ).astype(int)
    assert np.abs(thumb.astype(int) - reference).mean() < 6.0
    small = rgb_to_frame(load_rgb(media / "traffic_0001_256.bmp"))
    assert decode(thumbnail_jpeg(small, (10, 10, 60, 60))).shape[:2] == (175, 175)


def test_cropped_and_resized_jpeg(traffic: Frame):
    picture = decode(encode_jpeg(traffic, crop=(100, 100, 400, 400), height=150))
    assert picture.shape[:2] == (150, 150)


# --- overlays --------------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)])
def test_box_pixels_have_the_box_colour(colour):
    frame = gray_frame()
    picture = decode(encode_jpeg(frame, quality=95, boxes=[DrawBox((100, 80, 300, 280), colour, None, 6)]))
    expected = np.array(colour)
    # Middle of each side of the outline (outline lies inside the box).
    for y, x in ((180, 103), (180, 296), (83, 200), (276, 200)):
        assert np.abs(picture[y, x].astype(int) - expected).max() <= 24, (y, x, picture[y, x])
    # Inside and outside the box the frame is untouched gray.
    for y, x in ((180, 200), (20, 20), (330, 600)):
        assert np.abs(picture[y, x].astype(int) - 126).max() <= 6


def test_box_label_is_drawn_above_the_box():
    frame = gray_frame()
    plain = decode(encode_jpeg(frame)).astype(int)
    labelled = decode(
        encode_jpeg(frame, boxes=[DrawBox((100, 100, 300, 300), (255, 0, 0), "person: 87% 12345")])
    ).astype(int)
    above = labelled[80:99, 100:200]
    assert (np.abs(above - plain[80:99, 100:200]).sum(axis=2) > 60).mean() > 0.5
    # The label background is the box colour: red dominates there.
    assert above[..., 0].mean() > above[..., 1].mean() + 60
    # Text pixels (white on red) exist: some pixels are far brighter in green than the background.
    assert (above[..., 1] > 150).any()


def test_label_at_the_top_edge_goes_inside_the_box():
    frame = gray_frame()
    picture = decode(encode_jpeg(frame, boxes=[DrawBox((100, 0, 300, 200), (0, 0, 255), "car: 90% 4000")]))
    inside = picture[3:15, 110:180].astype(int)
    assert inside[..., 2].mean() > inside[..., 0].mean() + 60


def test_box_scales_with_resize_and_crop():
    frame = gray_frame(1280, 720)
    box = DrawBox((400, 200, 800, 600), (255, 0, 0), None, 4)
    half = decode(encode_jpeg(frame, height=360, boxes=[box], quality=95)).astype(int)
    assert half[200, 201, 0] > 200 and half[200, 201, 1] < 60  # left side at x = 400 / 2
    cropped = decode(encode_jpeg(frame, crop=(300, 100, 900, 700), boxes=[box], quality=95)).astype(int)
    assert cropped[300, 101, 0] > 200 and cropped[300, 101, 1] < 60  # left side at x = 400 - 300


def test_polygon_outline_and_mask():
    frame = gray_frame(640, 360, level=180)
    mask = np.zeros((360, 640), dtype=bool)
    mask[200:, 400:] = True
    zone = DrawPolygon([(50, 50), (350, 50), (350, 300), (50, 300)], (0, 255, 0), 4)
    picture = decode(encode_jpeg(frame, quality=95, polygons=[zone], mask=mask)).astype(int)
    assert picture[175, 50, 1] > 200 and picture[175, 50, 0] < 80  # on the left edge: green
    assert np.abs(picture[175, 200] - 180).max() <= 6  # inside: untouched
    assert picture[300, 550].max() < 90  # masked: darkened
    assert np.abs(picture[100, 550] - 180).max() <= 6  # unmasked


def test_timestamp_is_drawn_top_left(traffic: Frame):
    plain = decode(encode_jpeg(traffic)).astype(int)
    stamped = decode(encode_jpeg(traffic, timestamp=1_700_000_000.0)).astype(int)
    changed = np.abs(stamped - plain).sum(axis=2) > 60
    assert changed[:40, :300].mean() > 0.2
    assert not changed[100:, :].any()
    # Inside the changed area the background is dark and the text light.
    rows, cols = np.nonzero(changed)
    stamp = stamped[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].mean(axis=2)
    assert rows.min() < 15 and cols.min() < 15
    assert (stamp < 40).mean() > 0.5 and (stamp > 200).mean() > 0.05


def test_the_callers_frame_is_never_modified(traffic: Frame):
    frame = traffic.copy()
    before = frame.data.copy()
    mask = np.zeros((540, 960), dtype=bool)
    mask[:100, :100] = True
    everything = dict(
        boxes=[DrawBox((10, 10, 500, 500), (255, 0, 0), "person: 99% 1234", 8)],
        polygons=[DrawPolygon([(0, 0), (959, 0), (959, 539)], (0, 255, 0), 5)],
        mask=mask,
        timestamp=1_700_000_000.0,
    )
    encode_jpeg(frame, **everything)
    encode_jpeg(frame, height=175, crop=(100, 100, 500, 400), **everything)
    thumbnail_jpeg(frame, (200, 200, 300, 300))
    resize_planes(frame, 100)
    crop_frame(frame, (0, 0, 100, 100))
    encode_png(frame)
    assert np.array_equal(frame.data, before)


def test_threads_render_the_same_pictures(traffic: Frame):
    boxes = [DrawBox((240, 280, 560, 480), (255, 128, 0), "car: 95% 64000")]
    expected = encode_jpeg(traffic, boxes=boxes, timestamp=1_700_000_000.0, height=360)
    results: list[bytes] = []
    lock = threading.Lock()

    def render() -> None:
        for _ in range(10):
            jpeg = encode_jpeg(traffic, boxes=boxes, timestamp=1_700_000_000.0, height=360)
            with lock:
                results.append(jpeg)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 40 and all(r == expected for r in results)


# --- small pictures ------------------------------------------------------------------------------


def test_black_jpeg_is_black_and_cached():
    jpeg = black_jpeg(1280, 720)
    assert jpeg is black_jpeg(1280, 720)
    picture = decode(jpeg)
    assert picture.shape == (720, 1280, 3) and picture.max() <= 2
    assert decode(black_jpeg(175, 175)).shape == (175, 175, 3)
    with pytest.raises(ValueError):
        black_jpeg(0, 10)


def test_android_padding_gives_2_to_1(traffic: Frame):
    thumb = thumbnail_jpeg(traffic, (240, 280, 560, 480))
    padded = decode(pad_to_aspect_2_1(thumb)).astype(int)
    assert padded.shape[:2] == (175, 350)
    assert padded[:, :80].max() <= 20 and padded[:, -80:].max() <= 20  # black bars
    original = decode(thumb).astype(int)
    assert np.abs(padded[:, 88 : 88 + 175][:, 8:-8] - original[:, 8:-8]).mean() < 4.0
    wide = decode(pad_to_aspect_2_1(encode_jpeg(traffic, height=100)))
    assert wide.shape[:2] == (100, 200)  # 178x100 → padded to 200
    with pytest.raises(ValueError, match="not a JPEG"):
        pad_to_aspect_2_1(b"\x89PNG")


def test_plain_encode_is_deterministic(traffic: Frame):
    assert encode_jpeg(traffic) == encode_jpeg(traffic)
    assert simplejpeg.decode_jpeg_header(encode_jpeg(traffic))[:2] == (540, 960)
