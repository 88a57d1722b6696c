// The chat page: ask, stream the answer in, render markers, keep the conversation.

import { apiKey, authHeaders, responseError, setApiKey } from "./api.js";
import { initDocuments } from "./documents.js";
import {
  answerBadges,
  answerBody,
  answerNotices,
  el,
  reasonClass,
  shortAnswer,
  sourceItem,
  timingsText,
} from "./render.js";
import { readEventStream } from "./sse.js";
import { createViewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const MAX_HISTORY_MESSAGES = 20; // the last ten exchanges are enough context for a follow-up

const state = { history: [], controller: null, shown: null };

const viewer = createViewer({
  panel: $("viewer"),
  title: $("viewer-title"),
  meta: $("viewer-meta"),
  note: $("viewer-note"),
  text: $("viewer-text"),
  close: $("viewer-close"),
});

const documents = initDocuments(
  {
    dropzone: $("dropzone"),
    input: $("file-input"),
    uploads: $("uploads"),
    list: $("doc-list"),
    count: $("doc-count"),
    status: $("docs-status"),
    refresh: $("refresh-docs"),
  },
  viewer,
);

function openCitation(citation, trigger, quote) {
  viewer.openCitation(citation, trigger, quote);
}

/** The side column shows one answer: its sources, and (when open) a passage it cites. */
function showSources(answer, { follow = true } = {}) {
  const changed = state.shown !== answer;
  state.shown = answer;
  const citations = answer ? answer.citations || [] : [];
  $("source-list").replaceChildren(...citations.map((c) => sourceItem(c, openCitation)));
  $("sources-empty").hidden = citations.length > 0;
  $("sources-empty").textContent = answer
    ? "This answer cites no passages."
    : "The sources of the latest answer appear here.";
  if (!follow || !changed || !viewer.isOpen()) return;
  // An article left open on another answer's passage would mislead: follow this answer.
  if (citations.length) viewer.openCitation(citations[0], null, null, { focus: false });
  else viewer.clear();
}

/** Scroll the page so `node` sits between the header and the sticky question box (its top
 * when it is taller than the room between them). */
function keepInView(node) {
  const gap = 12;
  const top = document.querySelector(".topbar").getBoundingClientRect().bottom + gap;
  const bottom = $("ask-form").getBoundingClientRect().top - gap;
  const box = node.getBoundingClientRect();
  let delta = Math.max(0, box.bottom - bottom);
  if (box.top - delta < top) delta = box.top - top;
  if (Math.abs(delta) >= 1) window.scrollBy({ top: delta, behavior: "instant" });
}

function setStatus(text) {
  $("status").textContent = text;
}

function requestBody(question) {
  const body = { question, history: state.history.slice(-MAX_HISTORY_MESSAGES) };
  const source = $("f-source").value.trim();
  if (source) body.source = source;
  if ($("f-since").value) body.since = $("f-since").value;
  if ($("f-until").value) body.until = $("f-until").value;
  if ($("f-nollm").checked) body.no_llm = true;
  return body;
}

function newTurn(question) {
  $("empty-hint").hidden = true;
  const streamText = el("span", { className: "stream-text" });
  const reply = el(
    "div",
    { className: "msg assistant pending", "aria-busy": "true" },
    el("p", { className: "who" }, "Answer ", el("span", { className: "typing", text: "…" })),
    el("div", { className: "answer-text streaming" }, streamText),
  );
  const turn = el(
    "article",
    { className: "turn" },
    el("div", { className: "msg user" }, el("p", { className: "who", text: "You" }),
      el("p", { className: "bubble", text: question })),
    reply,
  );
  $("conversation").append(turn);
  keepInView(reply);
  return { reply, streamText };
}

function finishTurn(reply, answer) {
  reply.classList.remove("pending");
  reply.classList.toggle("refusal", answer.answerable === false);
  reply.dataset.reason = reasonClass(answer.refusal_reason);
  reply.classList.toggle("degraded", Boolean(answer.degraded));
  reply.dataset.mode = answer.mode || "";
  const who = el("p", { className: "who" }, "Answer ", ...answerBadges(answer));
  const count = (answer.citations || []).length;
  const sources = count === 0 ? null : el("button", {
    type: "button",
    className: "linklike show-sources",
    text: count === 1 ? "1 source" : `${count} sources`,
    onclick: () => {
      showSources(answer);
      $("sources-heading").scrollIntoView({ block: "start", behavior: "smooth" });
    },
  });
  const footer = el("p", { className: "timings" }, timingsText(answer.timings_ms), sources && " · ", sources);
  // A marker of an older answer makes that answer the one the side column shows.
  const onMarker = (citation, trigger, quote) => {
    showSources(answer, { follow: false });
    openCitation(citation, trigger, quote);
  };
  const body = answerBody(answer, onMarker);
  const short = shortAnswer(answer);
  reply.replaceChildren(who, ...answerNotices(answer), ...(short ? [short] : []), body, footer);
  reply.setAttribute("aria-busy", "false");
  showSources(answer);
  keepInView(reply);
}

function failTurn(reply, message) {
  reply.classList.remove("pending");
  reply.classList.add("error");
  reply.setAttribute("aria-busy", "false");
  reply.replaceChildren(
    el("p", { className: "who", text: "Error" }),
    el("p", { className: "notice notice-error", text: message }),
  );
  keepInView(reply);
}

function handleEvent(event, turn, result) {
  let data = null;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (event.event === "token" && typeof data.text === "string") {
    turn.streamText.append(data.text);
    keepInView(turn.reply);
  } else if (event.event === "citations") {
    result.citations = data.citations || [];
  } else if (event.event === "final") {
    result.answer = data;
  } else if (event.event === "error") {
    result.error = (data.error && data.error.message) || "The server reported an error.";
  }
}

async function streamAnswer(question, turn, signal) {
  const response = await fetch("/v1/ask/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
    body: JSON.stringify(requestBody(question)),
    signal,
    credentials: "same-origin",
  });
  if (!response.ok) throw await responseError(response);
  const result = { citations: null, answer: null, error: null };
  await readEventStream(response, (event) => handleEvent(event, turn, result));
  return result;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").hidden = !busy;
  $("conversation").setAttribute("aria-busy", busy ? "true" : "false");
}

async function ask(question) {
  const turn = newTurn(question);
  state.controller = new AbortController();
  setBusy(true);
  setStatus("Answering…");
  try {
    const result = await streamAnswer(question, turn, state.controller.signal);
    if (result.answer) {
      finishTurn(turn.reply, result.answer);
      state.history.push(
        { role: "user", content: question },
        { role: "assistant", content: result.answer.answer || "" },
      );
      setStatus(result.answer.answerable === false ? "No answer found in the sources." : "Answer ready.");
    } else {
      failTurn(turn.reply, result.error || "The answer stream ended before the answer was complete.");
      setStatus("");
    }
  } catch (error) {
    const stopped = error && error.name === "AbortError";
    failTurn(turn.reply, stopped ? "Stopped." : error.message || String(error));
    setStatus("");
  } finally {
    state.controller = null;
    setBusy(false);
  }
}

function submit() {
  const box = $("question");
  const question = box.value.trim();
  if (!question || state.controller) return;
  box.value = "";
  ask(question);
}

function newConversation() {
  if (state.controller) state.controller.abort();
  state.history = [];
  $("conversation").replaceChildren($("empty-hint"));
  $("empty-hint").hidden = false;
  showSources(null);
  viewer.close();
  setStatus("New conversation.");
  $("question").focus();
}

function showView(name) {
  for (const tab of document.querySelectorAll(".view-tab")) {
    const active = tab.dataset.view === name;
    if (active) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  $("chat-view").hidden = name !== "chat";
  $("documents-view").hidden = name !== "documents";
  document.body.dataset.view = name;
  if (name === "documents") documents.refresh();
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
$("stop").addEventListener("click", () => state.controller && state.controller.abort());
$("new-chat").addEventListener("click", newConversation);
$("f-key").value = apiKey();
$("f-key").addEventListener("input", () => setApiKey($("f-key").value.trim()));
window.addEventListener("newsrag:need-key", () => {
  $("options").open = true;
});
for (const tab of document.querySelectorAll(".view-tab")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}
document.body.dataset.view = "chat";
document.body.dataset.ready = "true";
