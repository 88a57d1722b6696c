// The documents view: upload (picker and drag and drop) with progress, list, delete.

import { apiJson, authHeaders, errorMessage } from "./api.js";
import { el, provenance } from "./render.js";

const STATUS_TEXT = {
  added: "added",
  updated: "updated",
  unchanged: "unchanged (already indexed)",
  failed: "failed",
};

/** Upload one file with XMLHttpRequest (fetch has no upload progress); resolves to its result. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.open("POST", "/v1/documents");
    xhr.responseType = "json";
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body && Array.isArray(body.results)) {
        const result = body.results.find((r) => r.filename === file.name) || body.results[0];
        resolve(result || { filename: file.name, status: "failed", doc_ids: [], error: "empty reply" });
      } else {
        resolve({ filename: file.name, status: "failed", doc_ids: [], error: errorMessage(body, xhr.status) });
      }
    });
    xhr.addEventListener("error", () =>
      resolve({ filename: file.name, status: "failed", doc_ids: [], error: "network error" }),
    );
    xhr.send(form);
  });
}

function uploadRow(file) {
  const progress = el("progress", { max: "1", value: "0", "aria-label": `Uploading ${file.name}` });
  const state = el("span", { className: "upload-state", text: "uploading…" });
  const row = el(
    "li",
    { className: "upload", "data-filename": file.name },
    el("span", { className: "upload-name", text: file.name }),
    progress,
    state,
  );
  return { row, progress, state };
}

function showResult(parts, result) {
  const status = result.status || "failed";
  parts.row.dataset.status = status;
  parts.progress.hidden = true; // its value stays where the upload events left it
  let text = STATUS_TEXT[status] || status;
  const ids = result.doc_ids || [];
  if (status !== "failed" && ids.length > 1) text += ` (${ids.length} articles)`;
  if (status === "failed" && result.error) text += `: ${result.error}`;
  parts.state.textContent = text;
}

/** Wire the documents view; returns {refresh}. */
export function initDocuments(dom, viewer) {
  async function refresh() {
    dom.status.textContent = "Loading…";
    try {
      const body = await apiJson("/v1/documents");
      render(body.documents || []);
      dom.status.textContent = "";
    } catch (error) {
      dom.status.textContent = `Could not list the documents: ${error.message}`;
    }
  }

  function render(documents) {
    dom.count.textContent = `Indexed articles (${documents.length})`;
    dom.list.replaceChildren(...documents.map(docItem));
    if (documents.length === 0) {
      dom.list.append(el("li", { className: "muted", text: "No articles yet: upload some above." }));
    }
  }

  function docItem(doc) {
    const meta = [provenance(doc)];
    if (doc.author) meta.push(`by ${doc.author}`);
    if (doc.category) meta.push(doc.category);
    if (Number.isInteger(doc.n_chunks)) {
      meta.push(doc.n_chunks === 1 ? "1 passage" : `${doc.n_chunks} passages`);
    }
    const remove = el("button", {
      type: "button",
      className: "danger",
      "aria-label": `Delete ${doc.title || doc.id}`,
      text: "Delete",
    });
    remove.addEventListener("click", () => confirmDelete(remove, doc));
    return el(
      "li",
      { className: "doc", "data-doc-id": doc.id },
      el(
        "button",
        {
          type: "button",
          className: "doc-title linklike",
          onclick: (event) => viewer.openDocument(doc.id, event.currentTarget),
        },
        doc.title || doc.id,
      ),
      el("span", { className: "doc-meta", text: meta.join(" · ") }),
      el("span", { className: "doc-id", text: doc.id }),
      remove,
    );
  }

  // Two-step delete (no native confirm dialog): the first press arms, the second deletes.
  async function confirmDelete(button, doc) {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = "Confirm delete";
      setTimeout(() => {
        if (button.isConnected && button.dataset.armed === "true") {
          button.dataset.armed = "false";
          button.textContent = "Delete";
        }
      }, 5000);
      return;
    }
    button.disabled = true;
    try {
      await apiJson(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
      viewer.forget(doc.id);
      dom.status.textContent = `Deleted “${doc.title || doc.id}”.`;
      await refresh();
    } catch (error) {
      button.disabled = false;
      dom.status.textContent = `Could not delete: ${error.message}`;
    }
  }

  async function uploadAll(files) {
    const list = [...files];
    if (list.length === 0) return;
    const rows = list.map(uploadRow);
    dom.uploads.prepend(...rows.map((r) => r.row));
    for (let i = 0; i < list.length; i += 1) {
      const parts = rows[i];
      const result = await uploadFile(list[i], (share) => {
        parts.progress.value = share;
      });
      showResult(parts, result);
      for (const id of result.doc_ids || []) viewer.forget(id);
    }
    await refresh();
  }

  dom.input.addEventListener("change", () => {
    uploadAll(dom.input.files);
    dom.input.value = "";
  });
  dom.dropzone.addEventListener("click", () => dom.input.click());
  dom.dropzone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      dom.input.click();
    }
  });
  for (const name of ["dragenter", "dragover"]) {
    dom.dropzone.addEventListener(name, (event) => {
      event.preventDefault();
      dom.dropzone.classList.add("dragging");
    });
  }
  dom.dropzone.addEventListener("dragleave", () => dom.dropzone.classList.remove("dragging"));
  dom.dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dom.dropzone.classList.remove("dragging");
    if (event.dataTransfer) uploadAll(event.dataTransfer.files);
  });
  // A file dropped outside the zone must not make the browser navigate to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  dom.refresh.addEventListener("click", refresh);
  return { refresh };
}
