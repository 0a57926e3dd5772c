// Config: the YAML file from /api/config/raw in a text box; saving sends it to /api/config/save, which
// checks it and answers a bad one with a one-line reason (the file on the box is then unchanged).

import { getText, send } from "./api.js";
import { showStatus } from "./format.js";

export function configView() {
  const form = document.getElementById("config-form");
  const text = document.getElementById("config-text");
  const status = document.getElementById("config-status");
  const reload = document.getElementById("config-reload");
  const buttons = form.querySelectorAll("button");
  let saved = null; // the text as it is on the box

  const dirty = () => saved !== null && text.value !== saved;

  function enable(on) {
    text.readOnly = !on;
    for (const button of buttons) button.disabled = !on;
  }

  async function load() {
    enable(false);
    showStatus(status, "Reading the config…");
    try {
      saved = await getText("/api/config/raw");
      text.value = saved;
      showStatus(status, "");
      enable(true);
    } catch (error) {
      saved = null;
      showStatus(
        status,
        error.unsupported
          ? "This nvrd cannot show its config file on the page."
          : `The config could not be read: ${error.message}`,
        "error",
      );
      reload.disabled = false;
    }
  }

  async function save(option) {
    enable(false);
    const candidate = text.value;
    showStatus(status, "Checking and saving…");
    try {
      const answer = await send(
        "POST",
        `/api/config/save?save_option=${option}`,
        candidate,
        "text/plain; charset=utf-8",
      );
      saved = candidate;
      showStatus(status, answer.message || "Saved.", "ok");
    } catch (error) {
      const message = error.unsupported ? "This nvrd cannot save its config from the page." : error.message;
      showStatus(status, `Not saved: ${message}`, "error");
    } finally {
      enable(true);
    }
  }

  form.addEventListener("submit", (submit) => {
    submit.preventDefault();
    save(submit.submitter?.value === "restart" ? "restart" : "saveonly");
  });
  reload.addEventListener("click", () => {
    if (!dirty() || window.confirm("Throw away your changes and read the file again?")) load();
  });
  text.addEventListener("input", () => {
    if (dirty() && status.classList.contains("ok")) showStatus(status, "");
  });
  window.addEventListener("beforeunload", (unload) => {
    if (dirty()) unload.preventDefault();
  });

  return {
    show() {
      // Coming back to the page keeps unsaved edits.
      if (saved === null || !dirty()) load();
    },
    hide() {},
  };
}
