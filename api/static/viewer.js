// The article viewer: shows a cited passage highlighted inside its article.

import { ApiError, apiJson } from "./api.js";
import { el, externalLink, provenance, safeHttpUrl } from "./render.js";

/** Where the cited passage lies in the article text: [start, end), or null when not found. */
export function locatePassage(text, citation) {
  const { start, end } = citation;
  if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= text.length) {
    if (end > start && text.slice(start, end) === citation.text) return [start, end];
  }
  if (citation.text) {
    const at = text.indexOf(citation.text);
    if (at !== -1) return [at, at + citation.text.length];
  }
  if (Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end) {
    if (end <= text.length) return [start, end];
  }
  return null;
}

/** Where `quote` appears inside text[from, to), whitespace-insensitive; null when absent. */
export function locateQuote(text, quote, from, to) {
  const words = String(quote || "").replace(/[.!?…]+$/, "").split(/\s+/).filter(Boolean);
  if (words.length < 4) return null; // too short to mean anything
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const match = new RegExp(escaped.join("\\s+")).exec(text.slice(from, to));
  return match ? [from + match.index, from + match.index + match[0].length] : null;
}

/** Build the viewer over its elements; returns {openCitation, openDocument, close, clear,
 * forget, isOpen}. */
export function createViewer(dom) {
  const cache = new Map();
  let trigger = null;
  let shownDoc = null;
  let request = 0;

  async function loadDocument(id) {
    if (!cache.has(id)) {
      const promise = apiJson(`/v1/documents/${encodeURIComponent(id)}`);
      cache.set(id, promise);
      promise.catch(() => cache.delete(id));
    }
    return cache.get(id);
  }

  function showMeta(doc) {
    dom.title.textContent = doc.title || doc.id || "Article";
    dom.meta.replaceChildren(provenance(doc));
    const href = safeHttpUrl(doc.url);
    if (href) dom.meta.append(" · ", externalLink(href, "original article", "viewer-link"));
  }

  function note(text) {
    dom.note.textContent = text || "";
    dom.note.hidden = !text;
  }

  function open(from) {
    trigger = from || null;
    dom.panel.hidden = false;
    document.body.classList.add("viewer-open");
  }

  function showText(text, span, quote) {
    if (!span) {
      dom.text.replaceChildren(text);
      dom.text.scrollTop = 0;
      return;
    }
    const [start, end] = span;
    const mark = el("mark", { className: "cited", id: "cited-passage" });
    const inner = locateQuote(text, quote, start, end);
    if (inner) {
      const quoted = el("strong", { className: "quoted", text: text.slice(inner[0], inner[1]) });
      mark.append(text.slice(start, inner[0]), quoted, text.slice(inner[1], end));
    } else {
      mark.textContent = text.slice(start, end);
    }
    dom.text.replaceChildren(text.slice(0, start), mark, text.slice(end));
    // Scroll the article box only (not the page) so the passage sits a third of the way down.
    dom.text.scrollTop = Math.max(0, mark.offsetTop - dom.text.clientHeight / 3);
    dom.panel.scrollIntoView({ block: "nearest" });
  }

  // focus: false when the viewer follows a new answer on its own (the user is typing).
  async function openCitation(citation, from, quote, { focus = true } = {}) {
    const mine = ++request;
    open(from);
    shownDoc = citation.doc_id;
    dom.panel.dataset.chunkId = citation.chunk_id || "";
    showMeta(citation);
    note("Loading the article…");
    dom.text.replaceChildren(el("mark", { className: "cited", text: citation.text }));
    if (focus) dom.title.focus();
    try {
      const doc = await loadDocument(citation.doc_id);
      if (mine !== request) return;
      showMeta(doc);
      const span = locatePassage(doc.text || "", citation);
      note(span ? `Passage [${citation.marker}] is highlighted.` : "The cited passage was not found in the current article text; it is shown alone.");
      if (span) showText(doc.text, span, quote);
    } catch (error) {
      if (mine !== request) return;
      const gone = error instanceof ApiError && error.status === 404;
      note(gone ? "This article is no longer in the index; only the cited passage is shown." : `Could not load the article: ${error.message}`);
    }
  }

  async function openDocument(id, from) {
    const mine = ++request;
    open(from);
    shownDoc = id;
    dom.panel.dataset.chunkId = "";
    showMeta({ title: id });
    note("Loading the article…");
    dom.text.replaceChildren();
    dom.title.focus();
    try {
      const doc = await loadDocument(id);
      if (mine !== request) return;
      showMeta(doc);
      note("");
      showText(doc.text || "", null);
    } catch (error) {
      if (mine === request) note(`Could not load the article: ${error.message}`);
    }
  }

  // Hide and empty the panel; focus stays where it is.
  function clear() {
    request += 1;
    dom.panel.hidden = true;
    dom.panel.dataset.chunkId = "";
    dom.text.replaceChildren();
    document.body.classList.remove("viewer-open");
    shownDoc = null;
  }

  function close() {
    clear();
    if (trigger && trigger.isConnected) trigger.focus();
    trigger = null;
  }

  function forget(id) {
    cache.delete(id);
    if (shownDoc === id) close();
  }

  dom.close.addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !dom.panel.hidden) close();
  });
  return {
    openCitation,
    openDocument,
    close,
    clear,
    forget,
    forgetAll: () => cache.clear(),
    isOpen: () => !dom.panel.hidden,
  };
}
