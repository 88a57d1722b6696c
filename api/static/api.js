// Talking to the /v1 API: JSON calls, the optional bearer key, and the error envelope.

const KEY_STORAGE = "newsrag.apiKey";

/** The API key the user typed (kept for this tab only), or "". */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Remember (or forget, with "") the API key for this tab. */
export function setApiKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key simply is not remembered
  }
}

/** Headers every API call carries. */
export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** An API failure with the server's message (OpenAI-style envelope) and HTTP status. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** Turn an error body (envelope, FastAPI detail, or text) into a readable message. */
export function errorMessage(body, status) {
  if (status === 401) {
    // Let the page offer the key field; the message says where it is.
    window.dispatchEvent(new CustomEvent("newsrag:need-key"));
    return "This server needs an API key: enter it under “Filters and options”.";
  }
  if (body && typeof body === "object") {
    if (body.error && typeof body.error.message === "string") return body.error.message;
    if (typeof body.detail === "string") return body.detail;
  }
  return `Request failed (HTTP ${status}).`;
}

/** Read a non-OK response into an ApiError. */
export async function responseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(errorMessage(body, response.status), response.status);
}

/** Call a JSON endpoint; resolves to the parsed body or throws ApiError. */
export async function apiJson(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  const init = { method, headers, signal, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await responseError(response);
  return response.json();
}
