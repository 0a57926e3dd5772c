// The page's entry: the section chosen by the URL's #fragment, and what every section shares.

import { getJson, getText } from "./api.js";
import { configView } from "./config.js";
import { eventsView } from "./events.js";
import { liveView } from "./live.js";
import { systemView } from "./system.js";

/** The cameras the daemon runs, with their detect size, from /api/config (or /api/stats). */
async function loadCameras() {
  try {
    const config = await getJson("/api/config");
    return Object.entries(config.cameras || {})
      .filter(([, camera]) => camera.enabled !== false)
      .map(([name, camera]) => ({
        name,
        width: camera.detect?.width || 16,
        height: camera.detect?.height || 9,
        zones: Object.keys(camera.zones || {}),
      }));
  } catch {
    const stats = await getJson("/api/stats");
    return Object.keys(stats.cameras || {}).map((name) => ({ name, width: 16, height: 9, zones: [] }));
  }
}

const context = { cameras: loadCameras() };
context.cameras.catch(() => {}); // each section reports the failure where it is shown

const views = {
  live: liveView(context),
  events: eventsView(context),
  system: systemView(context),
  config: configView(context),
};
let current = null;

function viewFromHash() {
  const [name, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: name in views ? name : "live", params: new URLSearchParams(query) };
}

function route() {
  const { name, params } = viewFromHash();
  if (current && current !== name) views[current].hide();
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${name}`;
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const changed = current !== name;
  current = name;
  views[name].show(params);
  if (changed) document.title = `${name[0].toUpperCase()}${name.slice(1)} · nvrd`;
}

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  // Nothing polls while the tab is hidden; coming back refreshes the current section.
  if (!current) return;
  if (document.hidden) views[current].hide();
  else views[current].show(viewFromHash().params);
});

// Every dialog closes with its × button as well as with Escape.
for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

getText("/api/version")
  .then((version) => {
    document.getElementById("version").textContent = `v${version.trim()}`;
  })
  .catch(() => {});

route();
