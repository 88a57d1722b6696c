// Building the DOM for answers and sources. Data only ever reaches the page as text nodes
// (textContent / createTextNode), never parsed as HTML, so answers and articles cannot inject markup.

const MARKER = /\[(\d{1,3})\]/g;

const REFUSALS = {
  no_relevant_passages: "Nothing in the indexed articles is relevant to this question.",
  not_supported: "The passages found do not support an answer to this question.",
  llm_refused: "The language model declined to answer from these sources.",
  near_miss:
    "The articles cover something close (another time, event or figure), but not what was " +
    "asked; the passages cited show what they do cover.",
};
const REFUSAL_TITLES = {
  near_miss: "Close, but not what was asked. ",
};

/** Create an element with properties/attributes and children (strings become text nodes). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** "Source, 2021-06-15" (whichever parts are known). */
export function provenance(item) {
  const parts = [];
  if (item.source) parts.push(item.source);
  if (item.published_at) parts.push(String(item.published_at).slice(0, 10));
  return parts.join(", ") || "source and date unknown";
}

/** Human wording of an Answer's refusal_reason. */
export function refusalText(reason) {
  return REFUSALS[reason] || "The indexed articles do not answer this question.";
}

/** A reason as a CSS class suffix ("near_miss" -> "near-miss"); "" for none or unknown. */
export function reasonClass(reason) {
  return Object.hasOwn(REFUSALS, reason) ? reason.replaceAll("_", "-") : "";
}

/** The address when it is http(s), else null (javascript:, data: and the like never link). */
export function safeHttpUrl(value) {
  if (!value) return null;
  try {
    const url = new URL(String(value));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A link that opens the article's own page: new tab, no opener, no referrer. */
export function externalLink(href, text, className) {
  return el("a", {
    href,
    className,
    rel: "noopener noreferrer",
    referrerpolicy: "no-referrer",
    target: "_blank",
    text,
  });
}

/** The value asked, above the answer ("$15 billion"); null when there is none or it refused. */
export function shortAnswer(answer) {
  if (answer.answerable === false || !answer.short_answer) return null;
  return el(
    "p",
    { className: "short-answer" },
    el("span", { className: "short-label", text: "Answer" }),
    " ",
    el("strong", { className: "short-value", text: answer.short_answer }),
  );
}

function markerButton(n, citation, onMarker, quote) {
  const label = `Source ${n}: ${citation.title || citation.doc_id}`;
  return el("button", {
    type: "button",
    className: citation.supported === false ? "marker marker-weak" : "marker",
    "data-marker": n,
    "aria-label": label,
    title: label,
    text: `[${n}]`,
    onclick: (event) => onMarker(citation, event.currentTarget, quote),
  });
}

/** Text with each known [n] turned into a marker button; unknown markers stay plain text. */
export function textWithMarkers(text, byMarker, onMarker, quote = null) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const citation = byMarker.get(Number(match[1]));
    if (!citation) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(markerButton(Number(match[1]), citation, onMarker, quote));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function sentenceNode(sentence, byMarker, onMarker) {
  // The sentence without its markers: the viewer emphasises it where the passage quotes it.
  const quote = sentence.text.replace(MARKER, "").trim();
  const nodes = textWithMarkers(sentence.text, byMarker, onMarker, quote);
  const shown = new Set([...sentence.text.matchAll(MARKER)].map((m) => Number(m[1])));
  for (const n of sentence.markers || []) {
    const citation = byMarker.get(n);
    if (citation && !shown.has(n)) nodes.push(" ", markerButton(n, citation, onMarker, quote));
  }
  if (sentence.supported !== false) return el("span", { className: "sentence" }, nodes);
  return el(
    "span",
    { className: "sentence unsupported" },
    el("span", { className: "flag", text: "Not supported by its sources:" }),
    " ",
    ...nodes,
  );
}

/** The answer body: sentences (unsupported ones flagged) with clickable markers. */
export function answerBody(answer, onMarker) {
  const byMarker = new Map((answer.citations || []).map((c) => [c.marker, c]));
  const body = el("div", { className: "answer-text" });
  const sentences = answer.sentences || [];
  if (answer.answerable !== false && sentences.length > 0) {
    sentences.forEach((sentence, i) => {
      if (i > 0) body.append(" ");
      body.append(sentenceNode(sentence, byMarker, onMarker));
    });
  } else {
    body.append(...textWithMarkers(answer.answer || "", byMarker, onMarker));
  }
  return body;
}

function badge(text, kind) {
  return el("span", { className: `badge badge-${kind}`, text });
}

/** Badges for mode, degraded and conflict. */
export function answerBadges(answer) {
  const badges = [];
  badges.push(badge(answer.mode === "llm" ? "LLM" : "Extractive", answer.mode || "extractive"));
  if (answer.degraded) badges.push(badge("Degraded", "degraded"));
  if (answer.conflict) badges.push(badge("Sources disagree", "conflict"));
  if (answer.refusal_reason === "near_miss") badges.push(badge("Near miss", "near-miss"));
  else if (answer.answerable === false) badges.push(badge("No answer", "refusal"));
  return badges;
}

/** Notices shown above the answer: refusal, degraded fallback, rewritten follow-up. */
export function answerNotices(answer) {
  const notices = [];
  if (answer.answerable === false) {
    const reason = reasonClass(answer.refusal_reason);
    notices.push(
      el(
        "p",
        {
          className: `notice notice-refusal${reason ? ` notice-${reason}` : ""}`,
          "data-reason": answer.refusal_reason || "",
        },
        el("strong", { text: REFUSAL_TITLES[answer.refusal_reason] || "No answer in the sources. " }),
        refusalText(answer.refusal_reason),
      ),
    );
  }
  if (answer.degraded) {
    notices.push(
      el("p", {
        className: "notice notice-degraded",
        text:
          "The language model failed, so this is an extractive answer: the best matching " +
          "sentences from the articles, quoted as they are.",
      }),
    );
  } else if (answer.mode === "extractive" && answer.answerable !== false) {
    notices.push(
      el("p", {
        className: "notice notice-extractive",
        text: "Extractive answer: sentences quoted from the articles, not written by a model.",
      }),
    );
  }
  if (answer.conflict) {
    notices.push(
      el("p", {
        className: "notice notice-conflict",
        text: "The sources disagree on this; compare the cited passages.",
      }),
    );
  }
  if (rewriteWorthShowing(answer.question, answer.standalone_question)) {
    notices.push(
      el("p", { className: "notice notice-rewrite" }, "Understood as: ", el("q", {
        text: answer.standalone_question,
      })),
    );
  }
  return notices;
}

const CONNECTORS = new Set(["and", "also", "but", "so", "then"]);

function coreWords(text) {
  const words = String(text || "").toLowerCase().match(/[\p{L}\p{N}$%'’.-]+/gu) || [];
  while (words.length > 1 && CONNECTORS.has(words[0])) words.shift();
  return words.map((w) => w.replace(/\.+$/, "")).filter(Boolean).join(" ");
}

/** Show a rewritten follow-up only when it says more than the question and reads as one
 * (rag.phrasing decides the same for the chat REPL). */
export function rewriteWorthShowing(question, rewritten) {
  if (!rewritten || /[()[\]]/.test(rewritten) || !/^\p{Lu}.*\?$/su.test(rewritten)) return false;
  return coreWords(question) !== coreWords(rewritten);
}

/** "retrieve 12 ms · total 40 ms". */
export function timingsText(timings) {
  if (!timings) return "";
  return Object.entries(timings)
    .filter(([, ms]) => typeof ms === "number")
    .map(([name, ms]) => `${name} ${Math.round(ms)} ms`)
    .join(" · ");
}

/** One entry of the sources panel: a button that opens the passage (and the article's own
 * page, when it has an http(s) url). */
export function sourceItem(citation, onOpen) {
  const weak = citation.supported === false;
  const href = safeHttpUrl(citation.url);
  return el(
    "li",
    { className: weak ? "source weak" : "source" },
    el(
      "button",
      {
        type: "button",
        className: "source-button",
        "data-marker": citation.marker,
        onclick: (event) => onOpen(citation, event.currentTarget),
      },
      el("span", { className: "source-marker", text: `[${citation.marker}]` }),
      el(
        "span",
        { className: "source-main" },
        el("span", { className: "source-title", text: citation.title || citation.doc_id }),
        el("span", { className: "source-meta", text: provenance(citation) }),
        weak ? el("span", { className: "flag", text: "does not support its sentence" }) : null,
        el("span", { className: "source-snippet", text: snippet(citation.text, 180) }),
      ),
    ),
    href ? externalLink(href, "Original article ↗", "source-link") : null,
  );
}

/** The first `limit` characters of text, cut at a word. */
export function snippet(text, limit) {
  const clean = String(text || "").replace(/\s+/g, " ").trim();
  if (clean.length <= limit) return clean;
  const cut = clean.slice(0, limit);
  const space = cut.lastIndexOf(" ");
  return `${cut.slice(0, space > limit / 2 ? space : limit)}…`;
}
