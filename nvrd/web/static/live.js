// Live: a tile per camera showing /api/<camera>/latest.jpg about once a second, and a larger view
// with the overlay switches and, on request, the MJPEG stream.

import { part } from "./api.js";
import { el, showStatus } from "./format.js";

const REFRESH_MS = 1000;
const STREAM_FPS = 5;
// Heights asked of the server: a few fixed steps, so every viewer of a camera shares its cached JPEG.
const HEIGHT_STEPS = [180, 270, 360, 540, 720, 1080];

/** The smallest height step that fills `cssWidth` pixels of a camera of that aspect, sharp on this screen. */
function heightFor(camera, cssWidth) {
  const wanted = (cssWidth * (window.devicePixelRatio || 1) * camera.height) / camera.width;
  const step = HEIGHT_STEPS.find((h) => h >= wanted) ?? HEIGHT_STEPS.at(-1);
  return Math.min(step, camera.height);
}

function latestUrl(camera, height, overlays = "") {
  // The time parameter makes each refresh a new URL; the server ignores it.
  return `/api/${part(camera.name)}/latest.jpg?h=${height}${overlays}&t=${Date.now()}`;
}

/** Reloads an <img> from `nextUrl()` every REFRESH_MS, never stacking requests on a slow link. */
class StillRefresher {
  constructor(image, nextUrl) {
    this.image = image;
    this.nextUrl = nextUrl;
    this.timer = null;
    this.running = false;
    image.addEventListener("load", () => this.schedule());
    image.addEventListener("error", () => this.schedule());
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.load();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  load() {
    this.timer = null;
    if (!this.running) return;
    const url = this.nextUrl();
    if (url) this.image.src = url;
    else this.schedule(); // nothing to show now (off screen): look again later
  }

  schedule() {
    if (!this.running || this.timer) return;
    this.timer = setTimeout(() => this.load(), REFRESH_MS);
  }
}

export function liveView(context) {
  const grid = document.getElementById("camera-grid");
  const status = document.getElementById("live-status");
  const dialog = document.getElementById("camera-dialog");
  const large = document.getElementById("camera-dialog-image");
  const overlayForm = document.getElementById("overlay-form");
  const tiles = [];
  const onScreen = new Set();
  let built = false;
  let active = false;
  let opened = null; // the camera in the dialog
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) onScreen.add(entry.target);
      else onScreen.delete(entry.target);
    }
  });

  const largeStills = new StillRefresher(large, () => {
    if (!opened) return null;
    return latestUrl(opened, heightFor(opened, large.clientWidth || 960), overlayQuery());
  });

  function overlayQuery() {
    let query = "";
    for (const box of overlayForm.querySelectorAll("input[type=checkbox]")) {
      if (box.checked) query += `&${box.name}=1`;
    }
    return query;
  }

  function buildTiles(cameras) {
    if (!cameras.length) {
      showStatus(status, "No camera is enabled. Add one on the Config page.");
      return;
    }
    for (const camera of cameras) {
      const image = el("img", {
        alt: `Latest picture from ${camera.name}`,
        width: camera.width,
        height: camera.height,
        decoding: "async",
      });
      const button = el(
        "button",
        { type: "button", class: "camera-tile", "aria-label": `Open camera ${camera.name}` },
        image,
        el("span", { class: "tile-name" }, camera.name),
      );
      button.addEventListener("click", () => openCamera(camera));
      grid.append(el("li", {}, button));
      observer.observe(image);
      const refresher = new StillRefresher(image, () =>
        onScreen.has(image) || !image.src ? latestUrl(camera, heightFor(camera, image.clientWidth)) : null,
      );
      tiles.push(refresher);
    }
  }

  function showLarge() {
    const mode = overlayForm.elements.mode.value;
    largeStills.stop();
    if (mode === "stream") {
      const height = heightFor(opened, large.clientWidth || 960);
      large.src = `/api/${part(opened.name)}?fps=${STREAM_FPS}&h=${height}${overlayQuery()}`;
    } else {
      largeStills.start();
    }
  }

  function openCamera(camera) {
    opened = camera;
    document.getElementById("camera-dialog-title").textContent = camera.name;
    document.getElementById("camera-dialog-events").href = `#events?camera=${encodeURIComponent(camera.name)}`;
    large.alt = `Live picture from ${camera.name}`;
    large.width = camera.width;
    large.height = camera.height;
    for (const tile of tiles) tile.stop(); // the dialog covers them
    dialog.showModal();
    showLarge();
  }

  overlayForm.addEventListener("change", () => opened && showLarge());
  large.addEventListener("error", () => {
    // No MJPEG stream on this server: fall back to stills.
    if (opened && overlayForm.elements.mode.value === "stream") {
      overlayForm.elements.mode.value = "stills";
      showLarge();
    }
  });
  dialog.addEventListener("close", () => {
    opened = null;
    largeStills.stop();
    large.removeAttribute("src"); // ends the MJPEG connection
    if (active) for (const tile of tiles) tile.start();
  });
  document.getElementById("camera-dialog-events").addEventListener("click", () => dialog.close());

  return {
    async show() {
      active = true;
      if (!built) {
        built = true;
        try {
          buildTiles(await context.cameras);
        } catch (error) {
          built = false;
          showStatus(status, `The camera list could not be read: ${error.message}`);
          return;
        }
      }
      if (active && !opened) for (const tile of tiles) tile.start();
    },
    hide() {
      active = false;
      for (const tile of tiles) tile.stop();
      if (dialog.open) dialog.close();
    },
  };
}
