// System: /api/stats in words, refreshed every few seconds while shown.

import { getJson, send } from "./api.js";
import { duration, el, mebibytes, number, showStatus } from "./format.js";

const REFRESH_MS = 5000;

function cpuOf(stats, pid) {
  const usage = pid ? stats.cpu_usages?.[String(pid)] : undefined;
  return usage && usage.cpu !== undefined ? `${number(Number(usage.cpu), 1)} %` : "–";
}

function table(caption, headers, rows, numericFrom = 1) {
  const head = el(
    "tr",
    {},
    headers.map((text, i) => el("th", { scope: "col", class: i >= numericFrom ? "num" : false }, text)),
  );
  const body = rows.map((cells) =>
    el(
      "tr",
      {},
      cells.map((cell, i) =>
        i === 0 ? el("th", { scope: "row" }, cell) : el("td", { class: i >= numericFrom ? "num" : false }, cell),
      ),
    ),
  );
  return el("div", { class: "table-wrap" }, el("table", {}, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, body)));
}

function serviceFacts(stats) {
  const service = stats.service || {};
  const facts = [
    ["Version", service.version ?? "–"],
    ["Running for", typeof service.uptime === "number" ? duration(service.uptime) : "–"],
    ["Detections per second", number(stats.detection_fps, 1)],
  ];
  const recording = service.recording;
  if (recording && typeof recording === "object" && "storage_available" in recording) {
    facts.push([
      "Recording disk",
      recording.storage_available ? "available" : `not available${recording.storage_reason ? ` (${recording.storage_reason})` : ""}`,
    ]);
  }
  return el("dl", { class: "facts" }, facts.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function cameraTable(stats) {
  const cameras = Object.entries(stats.cameras || {});
  if (!cameras.length) return el("p", { class: "notice" }, "No camera is running.");
  return table(
    "Cameras",
    ["Camera", "Camera fps", "Processed fps", "Skipped fps", "Detections/s", "Capture CPU"],
    cameras.map(([name, camera]) => [
      name,
      number(camera.camera_fps),
      number(camera.process_fps),
      number(camera.skipped_fps),
      number(camera.detection_fps),
      cpuOf(stats, camera.capture_pid),
    ]),
  );
}

function detectorTable(stats) {
  const detectors = Object.entries(stats.detectors || {});
  if (!detectors.length) return el("p", { class: "notice" }, "No object detector is running.");
  return table(
    "Object detectors",
    ["Detector", "Inference (ms)", "CPU"],
    detectors.map(([name, detector]) => [name, number(detector.inference_speed, 2), cpuOf(stats, detector.pid)]),
  );
}

function storageTable(stats) {
  const storage = Object.entries(stats.service?.storage || {}).filter(([, usage]) => usage && usage.total);
  if (!storage.length) return el("p", { class: "notice" }, "No storage figures.");
  return table(
    "Storage",
    ["Folder", "Used", "Free", "Total", "Use", "Type"],
    storage.map(([path, usage]) => [
      path,
      mebibytes(usage.used),
      mebibytes(usage.free),
      mebibytes(usage.total),
      el("meter", { min: 0, max: usage.total, value: usage.used, "aria-label": `${path} used` }),
      usage.mount_type || usage.mnt_type || "–",
    ]),
  );
}

export function systemView() {
  const body = document.getElementById("system-body");
  const status = document.getElementById("system-status");
  const restart = document.getElementById("restart-button");
  let timer = null;
  let active = false;

  async function load() {
    clearTimeout(timer);
    try {
      const stats = await getJson("/api/stats");
      body.replaceChildren(
        serviceFacts(stats),
        cameraTable(stats),
        detectorTable(stats),
        storageTable(stats),
      );
      showStatus(status, "");
    } catch (error) {
      showStatus(status, `The figures could not be read: ${error.message}`);
    }
    if (active) timer = setTimeout(load, REFRESH_MS);
  }

  restart.addEventListener("click", async () => {
    if (!window.confirm("Restart nvrd? Cameras stop for up to a minute.")) return;
    restart.disabled = true;
    try {
      const answer = await send("POST", "/api/restart");
      showStatus(status, answer.message || "Restarting…");
    } catch (error) {
      showStatus(status, error.unsupported ? "This nvrd cannot be restarted from the page." : error.message);
    } finally {
      setTimeout(() => (restart.disabled = false), 10000);
    }
  });

  return {
    show() {
      active = true;
      load();
    },
    hide() {
      active = false;
      clearTimeout(timer);
    },
  };
}
