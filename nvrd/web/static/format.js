// How numbers and times read on the page.

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Epoch seconds as a local date and time. */
export function dateTime(epochSeconds) {
  return timeFormat.format(new Date(epochSeconds * 1000));
}

/** Seconds as "1 h 2 min", "3 min 4 s" or "5 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min ${s % 60} s`;
  return `${s} s`;
}

/** MiB as "812 MiB", "3.4 GiB" or "1.2 TiB". */
export function mebibytes(mib) {
  if (typeof mib !== "number" || !Number.isFinite(mib)) return "–";
  if (mib >= 1024 * 1024) return `${(mib / 1024 / 1024).toFixed(1)} TiB`;
  if (mib >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  return `${Math.round(mib)} MiB`;
}

/** A number with `digits` decimals, or a dash when there is none. */
export function number(value, digits = 1) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** 0.873 as "87 %". */
export function percent(fraction) {
  return typeof fraction === "number" ? `${Math.round(fraction * 100)} %` : "–";
}

/** An element with attributes and children; strings become text (never HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Shows `message` in a status line, styled as an error, a success or plain. */
export function showStatus(node, message, kind = "") {
  node.textContent = message;
  node.classList.toggle("error", kind === "error");
  node.classList.toggle("ok", kind === "ok");
}
