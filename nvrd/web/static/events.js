// Events: newest first from /api/events, filtered by camera and label; a dialog shows the snapshot and
// the clip, and keeps (retains) or deletes the event when the server offers those actions.

import { ApiError, getJson, part, send } from "./api.js";
import { dateTime, duration, el, percent, showStatus } from "./format.js";

const PAGE_SIZE = 50;
const REFRESH_MS = 15000;
const PLACEHOLDER = "/ui/no-picture.svg";

function eventTitle(event) {
  return event.sub_label ? `${event.label} (${event.sub_label})` : event.label;
}

function eventScore(event) {
  return event.data?.top_score ?? event.top_score ?? event.data?.score ?? event.score;
}

/** An event without a picture shows a neutral placeholder instead of a broken image. */
function showPlaceholderOnError(image) {
  image.addEventListener("error", () => {
    if (!image.src.endsWith(PLACEHOLDER)) image.src = PLACEHOLDER;
  });
}

export function eventsView(context) {
  const form = document.getElementById("event-filters");
  const cameraSelect = document.getElementById("filter-camera");
  const labelSelect = document.getElementById("filter-label");
  const list = document.getElementById("event-list");
  const status = document.getElementById("events-status");
  const more = document.getElementById("events-more");
  const dialog = document.getElementById("event-dialog");
  const snapshot = document.getElementById("event-dialog-snapshot");
  const clip = document.getElementById("event-dialog-clip");
  const clipStatus = document.getElementById("event-dialog-clip-status");
  const retainButton = document.getElementById("event-retain");
  const deleteButton = document.getElementById("event-delete");
  const download = document.getElementById("event-download");
  const dialogStatus = document.getElementById("event-dialog-status");
  let timer = null;
  let shown = null; // the event in the dialog
  let oldest = null; // start_time of the last listed event, for "older"
  let filtersLoaded = false;
  let active = false;
  let generation = 0;

  function query(before) {
    const params = new URLSearchParams({ limit: PAGE_SIZE, include_thumbnails: 0 });
    if (cameraSelect.value) params.set("cameras", cameraSelect.value);
    if (labelSelect.value) params.set("labels", labelSelect.value);
    if (before !== undefined) params.set("before", before);
    return `/api/events?${params}`;
  }

  function card(event) {
    const badges = [];
    if (event.end_time === null) badges.push(el("span", { class: "badge live" }, "in progress"));
    if (event.retain_indefinitely) badges.push(el("span", { class: "badge kept" }, "kept"));
    const length = event.end_time === null ? "" : ` · ${duration(event.end_time - event.start_time)}`;
    const button = el(
      "button",
      { type: "button", class: "event-card", "data-event-id": event.id },
      el("img", {
        src: `/api/events/${part(event.id)}/thumbnail.jpg`,
        alt: `${event.label} on ${event.camera}`,
        loading: "lazy",
        width: 96,
        height: 96,
      }),
      el(
        "span",
        {},
        el("span", { class: "what" }, eventTitle(event), ...badges),
        el("span", { class: "when" }, dateTime(event.start_time)),
        el("span", { class: "extra" }, `${event.camera} · ${percent(eventScore(event))}${length}`),
      ),
    );
    button.addEventListener("click", () => openEvent(event));
    showPlaceholderOnError(button.querySelector("img"));
    return el("li", {}, button);
  }

  async function loadFilters() {
    if (filtersLoaded) return;
    filtersLoaded = true;
    try {
      for (const camera of await context.cameras) {
        cameraSelect.append(el("option", { value: camera.name }, camera.name));
      }
    } catch {
      // the camera list is optional here: events still list unfiltered
    }
    try {
      for (const label of await getJson("/api/labels")) {
        labelSelect.append(el("option", { value: label }, label));
      }
    } catch {
      // older servers have no /api/labels: the label filter stays at "All labels"
    }
  }

  function selectValue(select, value) {
    if (!value) return;
    if (![...select.options].some((option) => option.value === value)) {
      select.append(el("option", { value }, value));
    }
    select.value = value;
  }

  async function load({ append = false } = {}) {
    clearTimeout(timer);
    timer = null;
    const mine = ++generation; // a newer load (say, a filter change) wins over one still under way
    try {
      const events = await getJson(query(append ? oldest : undefined));
      if (mine !== generation) return;
      if (!append) list.replaceChildren();
      list.append(...events.map(card));
      if (events.length) oldest = events.at(-1).start_time;
      more.hidden = events.length < PAGE_SIZE;
      const count = list.children.length;
      showStatus(status, count ? "" : "No events yet.");
    } catch (error) {
      if (mine !== generation) return;
      showStatus(status, `Events could not be read: ${error.message}`, "error");
    }
    if (active && !append) schedule();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // The list stays as it is while an event is open or older pages were loaded.
      if (!dialog.open && list.children.length <= PAGE_SIZE) load();
      else schedule();
    }, REFRESH_MS);
  }

  function openEvent(event) {
    shown = event;
    const title = eventTitle(event);
    document.getElementById("event-dialog-title").textContent =
      `${title[0].toUpperCase()}${title.slice(1)} on ${event.camera}`;
    const end = event.end_time === null ? "in progress" : `${duration(event.end_time - event.start_time)}`;
    const zones = event.zones?.length ? ` · zones: ${event.zones.join(", ")}` : "";
    document.getElementById("event-dialog-facts").textContent =
      `${dateTime(event.start_time)} · ${end} · score ${percent(eventScore(event))}${zones}`;
    snapshot.alt = `Snapshot of the ${event.label} on ${event.camera}`;
    const picture = event.has_snapshot
      ? `/api/events/${part(event.id)}/snapshot.jpg?bbox=1`
      : `/api/events/${part(event.id)}/thumbnail.jpg`;
    // With a recording the player takes the picture's place, showing it until played.
    snapshot.hidden = event.has_clip;
    clip.hidden = !event.has_clip;
    download.hidden = !event.has_clip;
    showStatus(clipStatus, event.has_clip ? "" : "This event has no recording.");
    if (event.has_clip) {
      snapshot.removeAttribute("src");
      clip.poster = picture;
      clip.src = `/api/events/${part(event.id)}/clip.mp4`;
      download.href = `/api/events/${part(event.id)}/clip.mp4?download=1`;
    } else {
      snapshot.src = picture;
      clip.removeAttribute("poster");
      clip.removeAttribute("src");
    }
    showRetained(Boolean(event.retain_indefinitely));
    showStatus(dialogStatus, "");
    retainButton.disabled = false;
    deleteButton.disabled = false;
    dialog.showModal();
  }

  function showRetained(retained) {
    retainButton.setAttribute("aria-pressed", String(retained));
    retainButton.textContent = retained ? "Kept forever (click to release)" : "Keep forever";
  }

  function actionFailed(error, what) {
    const message = error instanceof ApiError && error.unsupported
      ? `This nvrd cannot ${what} yet.`
      : `Could not ${what}: ${error.message}`;
    showStatus(dialogStatus, message, "error");
  }

  retainButton.addEventListener("click", async () => {
    const event = shown;
    const retain = retainButton.getAttribute("aria-pressed") !== "true";
    retainButton.disabled = true;
    try {
      await send(retain ? "POST" : "DELETE", `/api/events/${part(event.id)}/retain`);
      event.retain_indefinitely = retain;
      showRetained(retain);
      showStatus(dialogStatus, retain ? "The event is kept forever." : "The event follows retention again.", "ok");
      load();
    } catch (error) {
      actionFailed(error, "keep events");
    } finally {
      retainButton.disabled = false;
    }
  });

  deleteButton.addEventListener("click", async () => {
    const event = shown;
    if (!window.confirm(`Delete this ${event.label} event and its snapshot for good?`)) return;
    deleteButton.disabled = true;
    try {
      await send("DELETE", `/api/events/${part(event.id)}`);
      dialog.close();
      load();
    } catch (error) {
      deleteButton.disabled = false;
      actionFailed(error, "delete events");
    }
  });

  snapshot.addEventListener("error", () => {
    if (!snapshot.getAttribute("src")) return;
    // A snapshot file that is gone: the stored thumbnail still shows what the event was.
    const thumbnail = shown && `/api/events/${part(shown.id)}/thumbnail.jpg`;
    if (thumbnail && !snapshot.src.endsWith(thumbnail)) snapshot.src = thumbnail;
    else if (!snapshot.src.endsWith(PLACEHOLDER)) snapshot.src = PLACEHOLDER;
  });

  clip.addEventListener("error", () => {
    if (clip.getAttribute("src")) showStatus(clipStatus, "The recording of this event is not available.");
  });

  dialog.addEventListener("close", () => {
    shown = null;
    clip.pause();
    clip.removeAttribute("src");
    clip.load(); // drops the connection to the clip
  });

  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    load();
  });
  for (const select of [cameraSelect, labelSelect]) select.addEventListener("change", () => load());
  more.addEventListener("click", () => load({ append: true }));

  return {
    async show(params) {
      active = true;
      await loadFilters();
      selectValue(cameraSelect, params.get("camera"));
      selectValue(labelSelect, params.get("label"));
      await load();
    },
    hide() {
      active = false;
      clearTimeout(timer);
      timer = null;
      if (dialog.open) dialog.close();
    },
  };
}
