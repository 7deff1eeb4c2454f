/* keras-seq2seq serve: the page. Plain JavaScript, no library, nothing fetched from
   elsewhere: it calls this server's /api/metadata, /api/translate and /api/n_best
   and draws each attention matrix as an inline SVG heat map (source tokens on the
   x axis, output tokens on the y axis) whose cells name their tokens and weight on
   hover. Text from the model is always set with textContent, never as HTML. */
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const CELL = 30;          // px, one attention cell
  const FONT_PX = 14;
  const $ = (id) => document.getElementById(id);
  const state = { metadata: null };

  // ------------------------------------------------------------------ helpers
  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data;
    try {
      data = await response.json();
    } catch (error) {
      throw new Error(`${url}: HTTP ${response.status}, not JSON`);
    }
    if (!response.ok) {
      throw new Error(data && data.error ? data.error : `${url}: HTTP ${response.status}`);
    }
    return data;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgElement(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      node.setAttribute(key, String(value));
    }
    return node;
  }

  function formatScore(score) {
    return score === null || score === undefined ? "n/a" : Number(score).toFixed(3);
  }

  // White to dark blue (ColorBrewer "Blues" stops), by linear interpolation.
  const STOPS = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181],
                 [8, 48, 107]];
  function color(weight) {
    const w = Math.min(1, Math.max(0, Number(weight) || 0)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(w));
    const t = w - i;
    const rgb = STOPS[i].map((c, j) => Math.round(c + (STOPS[i + 1][j] - c) * t));
    return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
  }

  let measure = null;
  function textWidth(text) {
    if (!measure) {
      measure = document.createElement("canvas").getContext("2d");
      const family = getComputedStyle(document.body).fontFamily;
      measure.font = `${FONT_PX}px ${family}`;
    }
    return measure.measureText(text).width;
  }

  // ------------------------------------------------------------------ heat map
  let gradients = 0;
  function legend(x, y, width) {
    const group = svgElement("g", { class: "legend" });
    const id = `attention-scale-${++gradients}`;
    const gradient = svgElement("linearGradient", { id, x1: 0, x2: 1, y1: 0, y2: 0 });
    STOPS.forEach((_, i) => {
      const offset = i / (STOPS.length - 1);
      gradient.appendChild(svgElement("stop", { offset, "stop-color": color(offset) }));
    });
    const defs = svgElement("defs");
    defs.appendChild(gradient);
    group.appendChild(defs);
    group.appendChild(svgElement("rect", { x, y, width, height: 8, fill: `url(#${id})`,
                                           stroke: "#d7dce2" }));
    const low = svgElement("text", { x: x - 4, y: y + 8, "text-anchor": "end",
                                     class: "axis-title" });
    low.textContent = "0";
    const high = svgElement("text", { x: x + width + 4, y: y + 8, class: "axis-title" });
    high.textContent = "1";
    const title = svgElement("text", { x, y: y + 22, class: "axis-title" });
    title.textContent = "attention weight";
    group.append(low, high, title);
    return group;
  }

  // A token that prints as nothing (a space, "\u2581") gets a visible stand-in.
  function shown(token) {
    return token.replace(/\u2581/g, " ").trim() === "" ? "\u2423" : token;
  }

  function heatMap(sourceTokens, targetTokens, attention) {
    const rotate = sourceTokens.some((t) => textWidth(t) > CELL - 4);
    const left = Math.ceil(Math.max(40, ...targetTokens.map(textWidth))) + 14;
    const longest = Math.max(10, ...sourceTokens.map(textWidth));
    const top = Math.ceil(rotate ? longest * 0.72 + 16 : FONT_PX + 14) + 14;
    const legendWidth = Math.max(90, Math.min(160, sourceTokens.length * CELL));
    const width = Math.max(left + sourceTokens.length * CELL, left + legendWidth + 20) +
                  10;
    const height = top + targetTokens.length * CELL + 36;
    const svg = svgElement("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": "attention heat map: output tokens (rows) over source tokens " +
                    "(columns)",
    });
    svg.appendChild(svgElement("text", { x: left, y: 11, class: "axis-title" }))
      .textContent = "source →";
    const columns = sourceTokens.map((token, j) => {
      const x = left + j * CELL + CELL / 2;
      const label = svgElement("text", rotate
        ? { x, y: top - 6, transform: `rotate(-45 ${x} ${top - 6})`,
            "text-anchor": "start", class: "source-token" }
        : { x, y: top - 7, "text-anchor": "middle", class: "source-token" });
      label.textContent = shown(token);
      svg.appendChild(label);
      return label;
    });
    const rows = targetTokens.map((token, i) => {
      const label = svgElement("text", {
        x: left - 8, y: top + i * CELL + CELL / 2 + FONT_PX * 0.35,
        "text-anchor": "end", class: "target-token",
      });
      label.textContent = shown(token);
      svg.appendChild(label);
      return label;
    });
    const cells = svgElement("g", { class: "cells" });
    targetTokens.forEach((target, i) => {
      sourceTokens.forEach((source, j) => {
        const weight = (attention[i] || [])[j] || 0;
        cells.appendChild(svgElement("rect", {
          x: left + j * CELL, y: top + i * CELL, width: CELL, height: CELL,
          fill: color(weight), class: "cell", "data-row": i, "data-column": j,
          "data-source": source, "data-target": target,
          "data-weight": weight.toFixed(6),
          "aria-label": `${target} ← ${source}: ${weight.toFixed(3)}`,
        }));
      });
    });
    svg.appendChild(cells);
    svg.appendChild(legend(left, top + targetTokens.length * CELL + 12, legendWidth));

    let active = null;
    function clear() {
      if (active) {
        active.cell.classList.remove("active");
        active.row.classList.remove("active");
        active.column.classList.remove("active");
        active = null;
      }
      $("tooltip").hidden = true;
    }
    function place(event) {
      const tip = $("tooltip");
      const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = `${Math.max(4, x)}px`;
      tip.style.top = `${event.clientY + 16}px`;
    }
    cells.addEventListener("mouseover", (event) => {
      const cell = event.target.closest("rect.cell");
      if (!cell) return;
      clear();
      const i = Number(cell.dataset.row);
      const j = Number(cell.dataset.column);
      active = { cell, row: rows[i], column: columns[j] };
      cell.classList.add("active");
      rows[i].classList.add("active");
      columns[j].classList.add("active");
      const tip = $("tooltip");
      tip.textContent = `source: ${cell.dataset.source}\n` +
                        `target: ${cell.dataset.target}\n` +
                        `weight: ${Number(cell.dataset.weight).toFixed(3)}`;
      tip.hidden = false;
      place(event);
    });
    cells.addEventListener("mousemove", (event) => {
      if (active) place(event);
    });
    svg.addEventListener("mouseleave", clear);
    return svg;
  }

  // ------------------------------------------------------------------ rendering
  function renderResult(item, nBest, nBestNote) {
    const section = element("section", "result");
    const columns = element("div", "columns");
    const side = element("div", "text-side");
    side.appendChild(element("p", "source muted", item.source));
    const line = element("p", "translation", item.text || "(empty)");
    side.appendChild(line);
    side.appendChild(element("span", "score", `score ${formatScore(item.score)}`));
    if (nBest) {
      side.appendChild(element("h2", null, `n-best (${nBest.length})`));
      const list = element("ol", "nbest");
      for (const hyp of nBest) {
        const li = element("li");
        li.appendChild(element("span", "score", formatScore(hyp.score)));
        li.appendChild(element("span", "text", hyp.text || "(empty)"));
        list.appendChild(li);
      }
      side.appendChild(list);
    } else if (nBestNote) {
      side.appendChild(element("p", "muted", nBestNote));
    }
    columns.appendChild(side);
    const map = element("div", "heatmap");
    if (item.tokens.length && item.source_tokens.length) {
      map.appendChild(heatMap(item.source_tokens, item.tokens, item.attention));
    }
    columns.appendChild(map);
    section.appendChild(columns);
    return section;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function translate(event) {
    if (event) event.preventDefault();
    const texts = $("source").value.split("\n").map((t) => t.trim()).filter(Boolean);
    showError("");
    if (!texts.length) {
      showError("Type a sentence first.");
      return;
    }
    const button = $("translate");
    button.disabled = true;
    $("status").textContent = "translating…";
    try {
      const started = performance.now();
      const translated = await postJSON("/api/translate", { texts });
      let nBest = null;
      let nBestNote = null;
      const info = state.metadata && state.metadata.n_best;
      if (info && info.available) {
        const k = Math.max(1, parseInt($("k").value, 10) || 5);
        try {
          nBest = (await postJSON("/api/n_best", { texts, k })).n_best;
        } catch (error) {
          nBestNote = `n-best: ${error.message}`;
        }
      } else {
        nBestNote = "n-best lists: not available for this model";
      }
      const results = $("results");
      results.replaceChildren(...translated.translations.map(
        (item, i) => renderResult(item, nBest ? nBest[i] : null, nBestNote)));
      const ms = Math.round(performance.now() - started);
      $("status").textContent = `${texts.length} sentence${texts.length > 1 ? "s" : ""}` +
                                ` in ${ms} ms`;
      document.body.dataset.ready = "true";
    } catch (error) {
      showError(error.message);
      $("status").textContent = "";
    } finally {
      button.disabled = false;
    }
  }

  async function loadMetadata() {
    try {
      const response = await fetch("/api/metadata");
      const meta = await response.json();
      state.metadata = meta;
      const decoding = meta.decoding || {};
      const how = decoding.method === "beam"
        ? `beam search (width ${decoding.beam_width})` : (decoding.method || "?");
      $("model-info").textContent =
        `model “${meta.name}” (${meta.kind === "keras" ? ".keras" : "SavedModel"}), ` +
        `${how}, vocabularies ${meta.source_vocabulary_size} → ` +
        `${meta.target_vocabulary_size}`;
      $("predict-url").textContent = `POST /v1/models/${meta.name}:predict`;
      const k = $("k");
      const limit = Math.min((meta.limits || {}).max_k || 16,
                             (meta.n_best || {}).max_k || Infinity);
      k.max = String(limit);
      if (Number(k.value) > limit) k.value = String(limit);
      k.disabled = !(meta.n_best || {}).available;
    } catch (error) {
      $("model-info").textContent = `could not read /api/metadata: ${error.message}`;
    }
  }

  $("form").addEventListener("submit", translate);
  $("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) translate(event);
  });
  loadMetadata();
})();
