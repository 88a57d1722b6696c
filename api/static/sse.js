// Server-Sent Events over fetch: EventSource cannot POST, so the stream is parsed here.
// Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

/** Feed text chunks in, get whole events out ({event, data}) via the onEvent callback. */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.eventName = "";
    this.dataLines = [];
  }

  push(chunk) {
    this.buffer += chunk;
    let newline;
    // Lines end with \n, \r\n or \r; a trailing \r may be the first half of \r\n, so wait.
    while ((newline = this.nextLineEnd()) !== -1) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer[newline] === "\r" && this.buffer[newline + 1] === "\n" ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      this.line(line);
    }
  }

  nextLineEnd() {
    for (let i = 0; i < this.buffer.length; i += 1) {
      const ch = this.buffer[i];
      if (ch === "\n") return i;
      if (ch === "\r") return i + 1 < this.buffer.length ? i : -1;
    }
    return -1;
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive ping
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventName = value;
    else if (field === "data") this.dataLines.push(value);
  }

  dispatch() {
    if (this.dataLines.length > 0) {
      this.onEvent({ event: this.eventName || "message", data: this.dataLines.join("\n") });
    }
    this.eventName = "";
    this.dataLines = [];
  }

  /** Call at end of stream: a last event without its blank line still counts. */
  finish() {
    if (this.buffer.length > 0) {
      this.line(this.buffer.replace(/\r$/, ""));
      this.buffer = "";
    }
    this.dispatch();
  }
}

/** Read a fetch Response body as SSE, calling onEvent({event, data}) for each event. */
export async function readEventStream(response, onEvent) {
  const parser = new SseParser(onEvent);
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(decoder.decode(value, { stream: true }));
  }
  parser.push(decoder.decode());
  parser.finish();
}
