"""The web page in a real browser: Debian's Chromium, headless, driven by Selenium through
/usr/bin/chromedriver, against a real nvrd with a `lavfi:` camera and events stored beforehand.

Screenshots are written to the test's tmp folder (desktop and phone width) for a human look.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from nvrd.store import Store
from tests.support.configs import daemon_sections
from tests.support.nvrd_process import NvrdProcess

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]
WAIT_S = 20
CAMERA = "yard"
EVENT_TIME = 1_763_700_000.0
# Frigate's id form: <epoch>.<micros>-<6 chars>
KEPT_EVENT = f"{EVENT_TIME:.6f}-ab12cd"
DELETED_EVENT = f"{EVENT_TIME - 600:.6f}-ef34gh"

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by the `browser` fixture, so the rest of the suite still imports
    webdriver = None


def config_text(tmp: Path, shared: Path, fps: int = 5) -> str:
    return f"""\
mqtt:
  enabled: false
{daemon_sections(tmp, shared)}cameras:
  {CAMERA}:
    ffmpeg:
      inputs:
        - path: "lavfi:testsrc2=size=640x360:rate={fps}"
          roles: [detect]
    detect:
      width: 640
      height: 360
      fps: {fps}
    zones:
      gate:
        coordinates: 0,0,320,0,320,360,0,360
"""


def jpeg(picture: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def store_event(store: Store, clips: Path, event_id: str, source: Path, label: str, start: float) -> None:
    """An ended event as nvrd would have written it: the row with its thumbnail, and the snapshot file."""
    picture = Image.open(source)
    thumb = picture.resize((round(picture.width * 175 / picture.height), 175))
    (clips / f"{CAMERA}-{event_id}.jpg").write_bytes(jpeg(picture))
    store.upsert_event(
        {
            "id": event_id,
            "label": label,
            "camera": CAMERA,
            "start_time": start,
            "end_time": start + 12.5,
            "zones": ["gate"],
            "thumbnail": base64.b64encode(jpeg(thumb)).decode(),
            "has_clip": False,
            "has_snapshot": True,
            "false_positive": False,
            "retain_indefinitely": False,
            "data": {"type": "object", "score": 0.74, "top_score": 0.79, "box": [0.1, 0.1, 0.5, 0.8]},
        }
    )


@pytest.fixture(scope="module")
def nvrd(tmp_path_factory, shared_dir: Path) -> Iterator[NvrdProcess]:
    tmp = tmp_path_factory.mktemp("web-page")
    clips = tmp / "media" / "clips"
    clips.mkdir(parents=True)
    with Store(tmp / "nvr.db") as store:
        media = shared_dir / "media"
        store_event(store, clips, KEPT_EVENT, media / "grace_hopper.bmp", "person", EVENT_TIME)
        store_event(store, clips, DELETED_EVENT, media / "cat.bmp", "cat", EVENT_TIME - 600)
    config = tmp / "config.yml"
    config.write_text(config_text(tmp, shared_dir))
    process = NvrdProcess(config).start()
    try:
        yield process
    finally:
        assert process.stop() == 0


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    if webdriver is None:
        pytest.fail("the browser tests need Selenium: pip install -r requirements-dev.txt")
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.exists():
            pytest.fail(f"{program} is missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium never looks for (or downloads) a driver of its own.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, condition, what: str, timeout: float = WAIT_S):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


def console_errors(driver: WebDriver) -> list[str]:
    """Console errors since the last call (the log is drained by reading it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def image_state(driver: WebDriver, selector: str) -> dict | None:
    """src and decoded size of an <img>; None until it has a decoded picture."""
    return driver.execute_script(
        """
        const img = document.querySelector(arguments[0]);
        if (!img || !img.complete || !img.naturalWidth) return null;
        return {src: img.getAttribute("src"), width: img.naturalWidth, height: img.naturalHeight};
        """,
        selector,
    )


def click(driver: WebDriver, selector: str, what: str) -> None:
    """Click an element once it is there; the event list may be re-rendered under the pointer by a
    refresh, so a card that went stale is looked up again."""

    def clicked(d) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait(driver, clicked, what)


def event_cards(driver: WebDriver) -> list[tuple[str, str]]:
    """(event id, text) of each listed event, read in one step (the list is re-rendered on refresh)."""
    cards = driver.execute_script(
        "return [...document.querySelectorAll('.event-card')].map(c => [c.dataset.eventId, c.innerText]);"
    )
    return [tuple(card) for card in cards]


def open_page(driver: WebDriver, nvrd: NvrdProcess, view: str) -> None:
    driver.get(f"{nvrd.base}/#{view}")
    wait(driver, lambda d: d.find_element(By.ID, f"view-{view}").is_displayed(), f"the {view} section")


def screenshot(driver: WebDriver, path: Path) -> None:
    driver.save_screenshot(str(path))
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size[0] > 0


# --- the page and its assets -------------------------------------------------------------------


def test_the_page_and_its_assets_are_served(nvrd: NvrdProcess) -> None:
    page = nvrd.get("/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # Every asset the page names is served with its type, and nothing comes from elsewhere.
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert "/ui/main.js" in assets and "/ui/app.css" in assets
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)
    for asset in assets:
        answer = nvrd.get(asset)
        assert answer.status == 200, asset
    assert nvrd.get("/ui/main.js").headers["Content-Type"].startswith("text/javascript")
    assert nvrd.get("/ui/app.css").headers["Content-Type"].startswith("text/css")
    # Browsers revalidate, and an unchanged asset costs a 304 without a body.
    etag = nvrd.get("/ui/main.js").headers["Etag"]
    again = nvrd.request("GET", "/ui/main.js", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert nvrd.get("/ui/no-such-file.js").status == 404
    assert nvrd.get("/ui/../config.yml").status in (403, 404)
    # The API around the page is unchanged.
    assert nvrd.get("/api/").text == "Frigate is running. Alive and healthy!"
    assert nvrd.get("/nothing-here").status == 404


# --- in the browser ----------------------------------------------------------------------------


def test_live_view_shows_the_camera_and_refreshes(browser: WebDriver, nvrd: NvrdProcess, tmp_path) -> None:
    open_page(browser, nvrd, "live")
    tile = ".camera-tile img"
    first = wait(browser, lambda d: image_state(d, tile), "the camera picture")
    height = int(re.search(r"[?&]h=(\d+)", first["src"]).group(1))
    assert first["src"].startswith(f"/api/{CAMERA}/latest.jpg?")
    assert first["height"] == height  # the server scaled it as asked
    assert first["width"] == round(640 * height / 360)
    seen = {first["src"]}
    for _ in range(2):
        state = wait(
            browser,
            lambda d: (s := image_state(d, tile)) and s["src"] not in seen and s,
            "the picture to refresh",
            timeout=10,
        )
        seen.add(state["src"])
    assert browser.find_element(By.CSS_SELECTOR, ".tabs a[aria-current=page]").text == "Live"
    assert re.match(r"v0\.13\.\d+-nvrd", browser.find_element(By.ID, "version").text)
    screenshot(browser, tmp_path / "live.png")
    assert console_errors(browser) == []


def test_camera_dialog_overlays_and_stream_by_keyboard(
    browser: WebDriver, nvrd: NvrdProcess, tmp_path
) -> None:
    open_page(browser, nvrd, "live")
    button = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".camera-tile"), "the tile")
    button.send_keys(Keys.ENTER)
    dialog = browser.find_element(By.ID, "camera-dialog")
    wait(browser, lambda d: dialog.get_attribute("open") is not None, "the camera dialog")
    large = "#camera-dialog-image"
    state = wait(browser, lambda d: image_state(d, large), "the large picture")
    assert "bbox=1" in state["src"]
    browser.find_element(By.CSS_SELECTOR, "#overlay-form input[name=zones]").click()
    wait(browser, lambda d: "zones=1" in (image_state(d, large) or {}).get("src", ""), "zones drawn")
    browser.find_element(By.CSS_SELECTOR, "#overlay-form input[value=stream]").click()
    stream = wait(
        browser,
        lambda d: (s := image_state(d, large)) and s["src"].startswith(f"/api/{CAMERA}?fps=") and s,
        "the MJPEG stream",
    )
    assert "zones=1" in stream["src"] and stream["width"] > 0
    screenshot(browser, tmp_path / "camera.png")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait(browser, lambda d: dialog.get_attribute("open") is None, "the dialog to close")
    # Closing drops the stream, so the connection ends (the close event runs just after).
    wait(
        browser,
        lambda d: d.execute_script("return document.querySelector(arguments[0]).getAttribute('src')", large)
        is None,
        "the stream to be dropped",
    )
    assert console_errors(browser) == []


def test_events_are_listed_with_thumbnails_and_can_be_kept(
    browser: WebDriver, nvrd: NvrdProcess, tmp_path
) -> None:
    open_page(browser, nvrd, "events")
    card = f".event-card[data-event-id='{KEPT_EVENT}']"
    thumb = wait(browser, lambda d: image_state(d, f"{card} img"), "the event's thumbnail")
    assert thumb["src"] == f"/api/events/{KEPT_EVENT}/thumbnail.jpg"
    assert thumb["height"] == 175
    cards = event_cards(browser)
    assert [event_id for event_id, _ in cards] == [KEPT_EVENT, DELETED_EVENT]  # newest first
    text = cards[0][1]
    assert "person" in text.lower() and CAMERA in text and "79 %" in text
    screenshot(browser, tmp_path / "events.png")

    # The label filter narrows the list through the API's `labels` parameter.
    labels = browser.find_element(By.ID, "filter-label")
    wait(browser, lambda d: len(labels.find_elements(By.TAG_NAME, "option")) == 3, "the label choices")
    labels.find_element(By.CSS_SELECTOR, "option[value=cat]").click()
    wait(
        browser,
        lambda d: [event_id for event_id, _ in event_cards(d)] == [DELETED_EVENT],
        "only the cat event",
    )
    labels.find_element(By.CSS_SELECTOR, "option[value='']").click()
    wait(browser, lambda d: len(event_cards(d)) == 2, "both events again")

    click(browser, card, "the event")
    snapshot = wait(browser, lambda d: image_state(d, "#event-dialog-snapshot"), "the snapshot")
    assert (snapshot["width"], snapshot["height"]) == (512, 600)  # grace_hopper.bmp's own size
    assert "no recording" in browser.find_element(By.ID, "event-dialog-clip-status").text
    assert not browser.find_element(By.ID, "event-dialog-clip").is_displayed()  # no player without a clip
    assert browser.find_element(By.ID, "event-retain").is_displayed()
    screenshot(browser, tmp_path / "event.png")

    retain = browser.find_element(By.ID, "event-retain")
    assert retain.get_attribute("aria-pressed") == "false"
    retain.click()
    wait(browser, lambda d: retain.get_attribute("aria-pressed") == "true", "the event to be kept")
    assert nvrd.get(f"/api/events/{KEPT_EVENT}").json()["retain_indefinitely"] is True
    retain.click()
    wait(browser, lambda d: retain.get_attribute("aria-pressed") == "false", "the event to be released")
    assert nvrd.get(f"/api/events/{KEPT_EVENT}").json()["retain_indefinitely"] is False
    browser.find_element(By.CSS_SELECTOR, "#event-dialog [data-close]").click()
    assert console_errors(browser) == []


def test_an_event_is_deleted_after_confirmation(browser: WebDriver, nvrd: NvrdProcess) -> None:
    open_page(browser, nvrd, "events")
    card = f".event-card[data-event-id='{DELETED_EVENT}']"
    click(browser, card, "the event")
    browser.find_element(By.ID, "event-delete").click()
    alert = wait(browser, lambda d: d.switch_to.alert, "the confirmation")
    assert "Delete" in alert.text
    alert.accept()
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, card), "the event to leave the list")
    assert nvrd.get(f"/api/events/{DELETED_EVENT}").status == 404
    assert [e["id"] for e in nvrd.get("/api/events").json()] == [KEPT_EVENT]
    assert console_errors(browser) == []


def add_clip_event(nvrd: NvrdProcess, event_id: str, start: float, thumbnail: bytes) -> None:
    """An event with has_clip, written while nvrd runs as its own event manager would (SQLite
    takes the second writer)."""
    with Store(nvrd.config.parent / "nvr.db") as store:
        store.upsert_event(
            {
                "id": event_id,
                "label": "person",
                "camera": CAMERA,
                "start_time": start,
                "end_time": start + 3,
                "thumbnail": base64.b64encode(thumbnail).decode(),
                "has_clip": True,
                "has_snapshot": False,
                "data": {"type": "object", "score": 0.9, "top_score": 0.9},
            }
        )


def open_event(browser: WebDriver, nvrd: NvrdProcess, event_id: str):
    open_page(browser, nvrd, "events")
    browser.find_element(By.ID, "event-filters").submit()  # the list as it is now
    card = f".event-card[data-event-id='{event_id}']"
    click(browser, card, f"event {event_id}")
    clip = browser.find_element(By.ID, "event-dialog-clip")
    assert clip.is_displayed()
    assert clip.get_attribute("src").endswith(f"/api/events/{event_id}/clip.mp4")
    return clip


def test_an_event_clip_plays_and_a_missing_recording_is_explained(
    browser: WebDriver, nvrd: NvrdProcess, shared_dir: Path, tmp_path: Path
) -> None:
    thumbnail = jpeg(Image.open(shared_dir / "media" / "grace_hopper.bmp").resize((150, 175)))
    playable = f"{EVENT_TIME + 60:.6f}-cl1p00"
    missing = f"{EVENT_TIME + 120:.6f}-n0c1ip"
    # A clip file as pre-0.10 Frigate kept it: 3 s of the shared clip, stream-copied.
    clips = Path(nvrd.get("/api/config").json()["storage"]["clips"])
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-ss", "75", "-t", "3",
            "-i", str(shared_dir / "media" / "one-by-one-person-detection.mp4"),
            "-c", "copy", "-movflags", "+faststart", str(clips / f"{CAMERA}-{playable}.mp4"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    add_clip_event(nvrd, playable, EVENT_TIME + 60, thumbnail)
    add_clip_event(nvrd, missing, EVENT_TIME + 120, thumbnail)
    try:
        clip = open_event(browser, nvrd, playable)
        length = wait(
            browser,
            lambda d: d.execute_script("return arguments[0].readyState >= 1 && arguments[0].duration", clip),
            "the clip's metadata",
        )
        assert 2.5 <= length <= 3.5
        assert clip.get_attribute("poster").endswith(f"/api/events/{playable}/thumbnail.jpg")
        assert not browser.find_element(By.ID, "event-dialog-snapshot").is_displayed()  # the player is there
        download = browser.find_element(By.ID, "event-download").get_attribute("href")
        assert download.endswith(f"/api/events/{playable}/clip.mp4?download=1")
        screenshot(browser, tmp_path / "clip.png")
        browser.find_element(By.CSS_SELECTOR, "#event-dialog [data-close]").click()
        assert console_errors(browser) == []

        open_event(browser, nvrd, missing)
        note = browser.find_element(By.ID, "event-dialog-clip-status")
        wait(browser, lambda d: "not available" in note.text, "the missing recording's note")
        browser.find_element(By.CSS_SELECTOR, "#event-dialog [data-close]").click()
        # The one console error allowed: the clip's own answer (404: no recordings to cut).
        errors = console_errors(browser)
        assert errors and all(f"/api/events/{missing}/clip.mp4" in e for e in errors), errors
    finally:
        for event_id in (playable, missing):
            nvrd.request("DELETE", f"/api/events/{event_id}")


def test_system_shows_camera_fps_and_detectors(browser: WebDriver, nvrd: NvrdProcess, tmp_path) -> None:
    nvrd.wait_for(
        lambda: nvrd.get("/api/stats").json()["cameras"][CAMERA]["camera_fps"] > 0, 30, what="camera fps"
    )
    open_page(browser, nvrd, "system")

    def camera_row(d):
        rows = d.find_elements(By.XPATH, f"//table[caption='Cameras']//tr[th='{CAMERA}']/td")
        return rows if rows and float(rows[0].text) > 0 else None

    cells = wait(browser, camera_row, "the camera's fps", timeout=30)
    stats = nvrd.get("/api/stats").json()["cameras"][CAMERA]
    shown_fps = float(cells[0].text)
    assert 0 < shown_fps <= 6.0  # the camera runs at 5 fps
    assert abs(shown_fps - stats["camera_fps"]) <= 2.5  # the page shows the API's figure, seconds apart
    detector = browser.find_element(By.XPATH, "//table[caption='Object detectors']//tr[th='cpu']/td")
    assert float(detector.text) > 0  # inference speed in ms
    facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert nvrd.get("/api/version").text in facts
    assert browser.find_elements(By.XPATH, "//table[caption='Storage']//tbody/tr")
    screenshot(browser, tmp_path / "system.png")
    assert console_errors(browser) == []


def test_config_editor_refuses_a_bad_edit_and_saves_a_good_one(
    browser: WebDriver, nvrd: NvrdProcess, tmp_path
) -> None:
    config = nvrd.config
    original = config.read_text()
    open_page(browser, nvrd, "config")
    editor = browser.find_element(By.ID, "config-text")
    wait(browser, lambda d: editor.get_attribute("value") == original, "the YAML in the editor")
    status = browser.find_element(By.ID, "config-status")

    def edit(text: str) -> None:
        browser.execute_script(
            "const t = arguments[0]; t.value = arguments[1]; t.dispatchEvent(new Event('input'));",
            editor,
            text,
        )

    # A bad edit: the one-line reason is shown and the file stays as it was.
    edit(original.replace("      fps: 5\n", "      fps: -5\n"))
    browser.find_element(By.ID, "config-save").click()
    wait(browser, lambda d: "error" in status.get_attribute("class"), "the error")
    message = status.text
    assert message.startswith("Not saved: config.yml: cameras.yard.detect.fps: ")
    assert "(line " in message and "\n" not in message
    assert config.read_text() == original
    screenshot(browser, tmp_path / "config-error.png")
    # The one console error allowed: the refused save's 400.
    errors = console_errors(browser)
    assert len(errors) == 1 and "/api/config/save" in errors[0] and "400" in errors[0], errors

    # A good edit is written.
    good = original.replace("mqtt:\n", "# edited in the browser\nmqtt:\n")
    edit(good)
    browser.find_element(By.ID, "config-save").click()
    wait(browser, lambda d: "ok" in status.get_attribute("class"), "the success")
    assert status.text == "Config successfully saved."
    assert config.read_text() == good
    assert nvrd.proc.poll() is None  # saveonly: still running
    assert console_errors(browser) == []


def test_phone_width_has_one_column_and_no_sideways_scroll(
    browser: WebDriver, nvrd: NvrdProcess, tmp_path
) -> None:
    browser.set_window_size(390, 844)
    try:
        for view in ("live", "events", "system"):
            open_page(browser, nvrd, view)
            time.sleep(1.5)  # let the section fill in
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{view} scrolls sideways by {overflow}px"
            screenshot(browser, tmp_path / f"phone-{view}.png")
        open_page(browser, nvrd, "live")
        tile = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".camera-tile"), "the tile")
        assert tile.size["width"] >= 330  # one tile across the phone
        assert console_errors(browser) == []
    finally:
        browser.set_window_size(1280, 900)
