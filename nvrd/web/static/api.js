// The HTTP API as the page uses it: JSON and text reads, and actions whose errors carry the server's message.

/** An API answer that was not a success; `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  /** True when the server does not offer this endpoint (an older or partial nvrd), as opposed to
   * a 404 about the thing asked for ("Event ... not found"). */
  get unsupported() {
    return this.status === 405 || this.status === 501 || (this.status === 404 && this.message === "Not found");
  }
}

async function messageOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === "string") return body.message;
  } catch {
    // not JSON: the text itself is the message
  }
  return text.trim() || `${response.status} ${response.statusText}`;
}

/** fetch() that turns network failures and error statuses into ApiError. */
export async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", ...options });
  } catch (error) {
    throw new ApiError(0, `nvrd does not answer (${error.message})`);
  }
  if (!response.ok) throw new ApiError(response.status, await messageOf(response));
  return response;
}

export async function getJson(path) {
  return (await request(path)).json();
}

export async function getText(path) {
  return (await request(path)).text();
}

/** A POST/PUT/DELETE; resolves to the server's `{success, message}` body (or `{}`). */
export async function send(method, path, body = undefined, contentType = "application/json") {
  const options = { method };
  if (body !== undefined) {
    options.body = body;
    options.headers = { "Content-Type": contentType };
  }
  const response = await request(path, options);
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** A URL path segment for a camera name or event id. */
export function part(value) {
  return encodeURIComponent(value);
}
