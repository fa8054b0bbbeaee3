/* pytest-genai HTML report: the case table, its filters and the case details.
 *
 * The cases are JSON in #genai-data. Only one page of rows is in the DOM at a time; filters
 * scan plain arrays, and the search text of each case is built once, on the first search.
 * Every value from the report goes into the page as text (textContent, text nodes,
 * attributes), never as markup.
 */
(function () {
  "use strict";

  const PAGE_SIZE = 100;
  const COLUMNS = 6;

  const data = JSON.parse(document.getElementById("genai-data").textContent);
  const cases = data.cases;
  const verdicts = data.verdicts;
  const total = cases.length;

  const rows = document.getElementById("case-rows");
  const count = document.getElementById("case-count");
  const search = document.getElementById("search");
  const filters = {
    suite: document.getElementById("filter-suite"),
    scorer: document.getElementById("filter-scorer"),
    outcome: document.getElementById("filter-outcome"),
    prompt: document.getElementById("filter-prompt"),
  };
  const pager = {
    box: document.getElementById("pager"),
    info: document.getElementById("page-info"),
    first: document.getElementById("page-first"),
    prev: document.getElementById("page-prev"),
    next: document.getElementById("page-next"),
    last: document.getElementById("page-last"),
  };

  let shown = [];
  let page = 0;
  let texts = null; // lowercase search text per case, built on the first search
  const expanded = new Set();

  // -- small helpers ---------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // text with line-break opportunities after "::", "/" and "[" (node ids)
  function breakable(className, text) {
    const node = el("td", className);
    for (const part of String(text).split(/(?<=::|\/|\[)/)) {
      if (node.firstChild) node.append(document.createElement("wbr"));
      node.append(part);
    }
    return node;
  }

  function pretty(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value, null, 2);
  }

  function shortValue(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function seconds(value) {
    if (value === undefined || value === null) return "";
    if (value < 0.001) return (value * 1e6).toFixed(0) + " µs";
    if (value < 1) return (value * 1000).toFixed(1) + " ms";
    if (value < 60) return value.toFixed(2) + " s";
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  function money(amount) {
    if (amount === undefined || amount === null) return "";
    if (amount >= 1) return "$" + amount.toFixed(2);
    if (amount === 0) return "$0";
    let digits = amount.toFixed(6).replace(/0+$/, "");
    if (digits.endsWith(".")) digits += "0";
    return "$" + digits;
  }

  function tokens(input, output) {
    if (input == null && output == null) return "";
    return (input || 0) + " → " + (output || 0);
  }

  function badge(status) {
    return el("span", "badge st-" + status, status);
  }

  function promptLabels(c) {
    return (c.prompts || []).map((p) => p.name + " v" + p.version);
  }

  function collect(value, parts) {
    if (value === undefined || value === null) return;
    if (typeof value !== "object") {
      parts.push(String(value));
    } else if (Array.isArray(value)) {
      for (const item of value) collect(item, parts);
    } else {
      for (const key of Object.keys(value)) {
        parts.push(key);
        collect(value[key], parts);
      }
    }
  }

  function caseText(c) {
    const parts = [c.case_id, c.nodeid, c.error || ""];
    collect(c.inputs, parts);
    collect(c.outputs, parts);
    collect(c.expectations, parts);
    for (const f of c.feedback || []) {
      if (f.rationale) parts.push(f.rationale);
      if (f.error) parts.push(f.error.error_type + ": " + f.error.message);
    }
    return parts.join("\n").toLowerCase();
  }

  // -- filtering and the table ----------------------------------------------------------------

  function matching() {
    const suite = filters.suite.value;
    const scorer = filters.scorer.value;
    const outcome = filters.outcome.value;
    const prompt = filters.prompt.value;
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && texts === null) texts = cases.map(caseText);
    const found = [];
    for (let i = 0; i < total; i++) {
      const c = cases[i];
      if (suite && c.suite !== suite) continue;
      if (scorer) {
        const status = verdicts[i][scorer];
        if (status === undefined || (outcome && status !== outcome)) continue;
      } else if (outcome && c.outcome !== outcome) {
        continue;
      }
      if (prompt) {
        const labels = promptLabels(c);
        if (prompt === "none" ? labels.length > 0 : !labels.includes(prompt)) continue;
      }
      if (terms.length) {
        const text = texts[i];
        if (!terms.every((term) => text.includes(term))) continue;
      }
      found.push(i);
    }
    return found;
  }

  function update() {
    filters.outcome.querySelector('option[value="info"]').disabled = !filters.scorer.value;
    if (!filters.scorer.value && filters.outcome.value === "info") filters.outcome.value = "";
    shown = matching();
    page = 0;
    render();
  }

  function render() {
    const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const fragment = document.createDocumentFragment();
    for (const i of shown.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
      fragment.append(caseRow(i));
      if (expanded.has(i)) fragment.append(detailRow(i));
    }
    if (!shown.length) {
      const tr = el("tr", "empty");
      const td = el("td", "", total ? "No case matches these filters." : "No cases were recorded.");
      td.colSpan = COLUMNS;
      tr.append(td);
      fragment.append(tr);
    }
    rows.replaceChildren(fragment);
    count.textContent = shown.length + " of " + total + " cases";
    pager.box.hidden = pages <= 1;
    pager.info.textContent = "page " + (page + 1) + " of " + pages;
    pager.first.disabled = pager.prev.disabled = page === 0;
    pager.next.disabled = pager.last.disabled = page >= pages - 1;
  }

  function caseRow(i) {
    const c = cases[i];
    const tr = el("tr", expanded.has(i) ? "case-row open" : "case-row");
    tr.dataset.nodeid = c.nodeid;
    tr.dataset.index = String(i);
    tr.tabIndex = 0;
    tr.setAttribute("aria-expanded", expanded.has(i) ? "true" : "false");
    const id = breakable("case-id", c.case_id);
    id.title = c.nodeid;
    const verdictCell = el("td", "verdicts");
    for (const name of Object.keys(verdicts[i]).sort()) {
      const status = verdicts[i][name];
      const chip = el("span", "chip st-" + status, name);
      chip.title = name + ": " + status;
      verdictCell.append(chip);
    }
    tr.append(
      id,
      breakable("case-suite", c.suite),
      cellWith(badge(c.outcome)),
      verdictCell,
      el("td", "", promptLabels(c).join(", ")),
      el("td", "num", seconds(c.duration))
    );
    return tr;
  }

  function cellWith(child) {
    const td = el("td");
    td.append(child);
    return td;
  }

  function toggleCase(tr) {
    const i = Number(tr.dataset.index);
    const open = !expanded.has(i);
    if (open) {
      expanded.add(i);
      tr.after(detailRow(i));
    } else {
      expanded.delete(i);
      const next = tr.nextElementSibling;
      if (next && next.classList.contains("detail-row")) next.remove();
    }
    tr.classList.toggle("open", open);
    tr.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // -- a case's detail ------------------------------------------------------------------------

  function detailRow(i) {
    const tr = el("tr", "detail-row");
    const td = el("td");
    td.colSpan = COLUMNS;
    td.append(caseDetail(cases[i]));
    tr.append(td);
    return tr;
  }

  function caseDetail(c) {
    const box = el("div", "case-detail");
    const head = el("h3");
    head.append(el("span", "nodeid", c.nodeid), " ", badge(c.outcome));
    if (c.duration != null) head.append(" ", el("span", "muted", seconds(c.duration)));
    box.append(head);
    if (c.error) box.append(el("div", "error-box", c.error));

    const io = el("div", "io");
    for (const [title, value] of [
      ["Inputs", c.inputs],
      ["Outputs", c.outputs],
      ["Expectations", c.expectations],
    ]) {
      const part = el("div");
      part.append(el("h4", "", title));
      part.append(value == null ? el("div", "muted", "none") : el("pre", "value", pretty(value)));
      io.append(part);
    }
    box.append(io);

    const feedback = c.feedback || [];
    box.append(el("h4", "", "Verdicts (" + feedback.length + ")"));
    if (feedback.length) {
      box.append(
        table(
          ["scorer", "value", "status", "rationale", "source", "cost", "tokens", "cached"],
          feedback.map(verdictCells)
        )
      );
    } else {
      box.append(el("div", "muted", "none"));
    }

    if (c.prompts && c.prompts.length) {
      box.append(el("h4", "", "Prompts"));
      box.append(
        table(
          ["name", "version", "alias", "digest"],
          c.prompts.map((p) => {
            const digest = el("span", "", p.digest.slice(0, 12));
            digest.title = p.digest;
            return [p.name, "v" + p.version, p.alias || "", digest];
          })
        )
      );
    }

    const spans = c.trace || [];
    box.append(el("h4", "", "Trace (" + spans.length + " span" + (spans.length === 1 ? ")" : "s)")));
    box.append(spans.length ? waterfall(spans) : el("div", "muted", "no spans"));
    return box;
  }

  function verdictCells(f) {
    const status = f.error ? "error" : f.passed == null ? "info" : f.passed ? "passed" : "failed";
    const why = el("td");
    if (f.rationale) why.append(el("div", "rationale", f.rationale));
    if (f.error) why.append(el("div", "feedback-error", f.error.error_type + ": " + f.error.message));
    const source = f.source || {};
    const judged = source.source_type === "LLM_JUDGE";
    const metadata = f.metadata || {};
    const value = el("span", "mono", shortValue(f.value));
    if (f.pass_rule) value.title = "pass rule: " + f.pass_rule;
    return [
      el("span", "mono", f.name),
      value,
      badge(status),
      why,
      judged ? "judge " + (source.source_id || "") : "code",
      money(f.cost),
      tokens(f.input_tokens, f.output_tokens),
      metadata.cached ? "cached" : "",
    ];
  }

  function table(headers, body) {
    const t = el("table", "inner");
    const head = el("tr");
    for (const h of headers) head.append(el("th", "", h));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const cells of body) {
      const tr = el("tr");
      for (const cell of cells) {
        if (cell instanceof HTMLTableCellElement) tr.append(cell);
        else if (cell instanceof Node) tr.append(cellWith(cell));
        else tr.append(el("td", "", cell));
      }
      tbody.append(tr);
    }
    t.append(thead, tbody);
    return t;
  }

  // -- the trace waterfall --------------------------------------------------------------------

  function spanTree(spans) {
    const ids = new Set(spans.map((s) => s.span_id));
    const children = new Map();
    const roots = [];
    for (const s of spans) {
      if (s.parent_id && s.parent_id !== s.span_id && ids.has(s.parent_id)) {
        if (!children.has(s.parent_id)) children.set(s.parent_id, []);
        children.get(s.parent_id).push(s);
      } else {
        roots.push(s);
      }
    }
    const byStart = (a, b) => (a.start || 0) - (b.start || 0);
    const ordered = [];
    const seen = new Set();
    const visit = (list, depth) => {
      for (const s of list.slice().sort(byStart)) {
        if (seen.has(s)) continue;
        seen.add(s);
        ordered.push([s, depth]);
        visit(children.get(s.span_id) || [], depth + 1);
      }
    };
    visit(roots, 0);
    // spans whose parents form a cycle (a broken trace) still show, at the top level
    visit(spans.filter((s) => !seen.has(s)), 0);
    return ordered;
  }

  function waterfall(spans) {
    const box = el("div", "trace");
    let end = 0;
    for (const s of spans) end = Math.max(end, (s.start || 0) + (s.duration || 0));
    if (!(end > 0)) end = 1;
    const head = el("div", "span-head");
    head.append(
      el("div", "", "span"),
      el("div", "", "timeline (" + seconds(end) + ")"),
      el("div", "num", "duration"),
      el("div", "num", "tokens in → out"),
      el("div", "num", "cost")
    );
    box.append(head);
    for (const [span, depth] of spanTree(spans)) box.append(spanRow(span, depth, end));
    return box;
  }

  function spanRow(s, depth, end) {
    const row = el("div", s.error ? "span-row span-error" : "span-row");
    row.dataset.spanId = s.span_id;
    row.tabIndex = 0;
    row.setAttribute("role", "button");
    row.setAttribute("aria-expanded", "false");
    if (s.error) row.title = s.error;
    const name = el("div", "span-name");
    name.style.paddingLeft = depth * 16 + "px";
    const type = s.type || "UNKNOWN";
    name.append(
      el("span", "caret", "▸"),
      el("span", "label", s.name),
      el("span", "type-badge type-" + type.toLowerCase().replace(/[^a-z0-9_-]/g, ""), type)
    );
    const line = el("div", "span-timeline");
    const bar = el("div", "span-bar");
    bar.style.left = (((s.start || 0) / end) * 100).toFixed(3) + "%";
    bar.style.width = (((s.duration || 0) / end) * 100).toFixed(3) + "%";
    bar.title = "starts at " + seconds(s.start || 0) + ", takes " + seconds(s.duration || 0);
    line.append(bar);
    row.append(
      name,
      line,
      el("div", "num", seconds(s.duration || 0)),
      el("div", "num", tokens(s.input_tokens, s.output_tokens)),
      el("div", "num", money(s.cost))
    );
    return row;
  }

  function spanDetail(s) {
    const box = el("div", "span-detail");
    const facts = el("dl");
    const add = (label, value, className) => {
      if (value === undefined || value === null || value === "") return;
      facts.append(el("dt", "", label), el("dd", className || "", value));
    };
    add("span id", s.span_id);
    add("parent", s.parent_id);
    add("type", s.type);
    add("model", s.model);
    add("start", seconds(s.start || 0));
    add("duration", seconds(s.duration || 0));
    add("error", s.error, "error-text");
    box.append(facts);
    for (const [title, value] of [
      ["Inputs", s.inputs],
      ["Outputs", s.outputs],
      ["Attributes", s.attributes && Object.keys(s.attributes).length ? s.attributes : null],
    ]) {
      if (value == null) continue;
      box.append(el("h4", "", title), el("pre", "value", pretty(value)));
    }
    return box;
  }

  function toggleSpan(row) {
    const next = row.nextElementSibling;
    if (next && next.classList.contains("span-detail")) {
      next.remove();
      row.classList.remove("open");
      row.setAttribute("aria-expanded", "false");
      row.querySelector(".caret").textContent = "▸";
      return;
    }
    const detail = row.closest(".detail-row");
    const c = cases[Number(detail.previousElementSibling.dataset.index)];
    const span = (c.trace || []).find((s) => s.span_id === row.dataset.spanId);
    if (!span) return;
    row.after(spanDetail(span));
    row.classList.add("open");
    row.setAttribute("aria-expanded", "true");
    row.querySelector(".caret").textContent = "▾";
  }

  // -- wiring ---------------------------------------------------------------------------------

  function activate(target) {
    const spanRow = target.closest(".span-row");
    if (spanRow) {
      toggleSpan(spanRow);
      return true;
    }
    const caseRow = target.closest("tr.case-row");
    if (caseRow) {
      toggleCase(caseRow);
      return true;
    }
    return false;
  }

  rows.addEventListener("click", (event) => {
    if (window.getSelection().toString()) return; // selecting text, not opening a row
    activate(event.target);
  });
  rows.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target === event.target.closest(".span-row, tr.case-row")) {
      if (activate(event.target)) event.preventDefault();
    }
  });

  for (const select of Object.values(filters)) select.addEventListener("change", update);
  search.addEventListener("input", update);

  pager.first.addEventListener("click", () => { page = 0; render(); });
  pager.prev.addEventListener("click", () => { page -= 1; render(); });
  pager.next.addEventListener("click", () => { page += 1; render(); });
  pager.last.addEventListener("click", () => { page = Infinity; render(); });

  // the overview's hidden rows, shown a batch at a time (tens of thousands at once would
  // freeze the page for seconds)
  const overviewMore = document.getElementById("overview-more");
  if (overviewMore) {
    overviewMore.addEventListener("click", () => {
      const hidden = document.querySelectorAll("#overview tr.overview-row[hidden]");
      const batch = Number(overviewMore.dataset.batch);
      for (let i = 0; i < Math.min(batch, hidden.length); i++) hidden[i].hidden = false;
      const left = hidden.length - batch;
      if (left > 0) overviewMore.textContent = "Show " + Math.min(batch, left) + " more rows (" + left + " hidden)";
      else overviewMore.remove();
    });
  }

  // links from the baseline section: show that case, open
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.case-link");
    if (!link) return;
    for (const select of Object.values(filters)) select.value = "";
    search.value = link.dataset.nodeid;
    update();
    const i = cases.findIndex((c) => c.nodeid === link.dataset.nodeid);
    if (i >= 0 && !expanded.has(i)) {
      const tr = rows.querySelector('tr.case-row[data-index="' + i + '"]');
      if (tr) toggleCase(tr);
    }
  });

  update();
  document.body.dataset.ready = "1";
})();
