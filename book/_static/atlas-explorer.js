/* The Atlas's paper explorer and results view (atlas/explorer.py writes the data island).
   Plain DOM, no library, no network: every string is set with textContent, never as HTML. */
(function () {
  "use strict";
  var PAGE = 100; // rows drawn at a time; "show more" draws the next ones

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function safeUrl(url) { return /^https?:\/\//.test(url || "") ? url : ""; }

  function link(text, href, cls) {
    var url = /^https?:\/\//.test(href) || /^[\w./-]+(#[\w-]+)?$/.test(href) ? href : "";
    if (!url) return el("span", {text: text});
    return el("a", {href: url, text: text, class: cls || ""});
  }

  function select(label, name, options) {
    var box = el("select", {name: name, "aria-label": label});
    box.appendChild(el("option", {value: "", text: label + ": all"}));
    options.forEach(function (o) { box.appendChild(el("option", {value: o[0], text: o[1]})); });
    return box;
  }

  function unique(values) {
    return Array.from(new Set(values)).sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
  }

  function normal(s) { return (s || "").toLowerCase(); }

  // ---- papers -----------------------------------------------------------------------------
  function papers(root, data) {
    var chapterTitle = {}, chapterPage = {}, topicTitle = {};
    data.chapters.forEach(function (c) { chapterTitle[c.id] = c.title; chapterPage[c.id] = c.page; });
    data.topics.forEach(function (t) { topicTitle[t.id] = t.title; });
    var rows = data.rows.map(function (r) {
      r._search = normal(r.title + " " + r.authors + " " + r.key);
      return r;
    });
    var years = unique(rows.map(function (r) { return r.year; }));
    var controls = {
      q: el("input", {type: "search", name: "q", placeholder: "Search titles and authors", "aria-label": "Search titles and authors"}),
      chapter: select("Chapter", "chapter", data.chapters.map(function (c) { return [c.id, c.title]; })),
      topic: select("Topic", "topic", data.topics.map(function (t) { return [t.id, t.title]; })),
      stage: select("Stage", "stage", data.stages.map(function (s) { return [s, s]; })),
      kind: select("Kind", "kind", data.kinds.map(function (k) { return [k, k]; })),
      from: select("From", "from", years.map(function (y) { return [String(y), String(y)]; })),
      to: select("To", "to", years.map(function (y) { return [String(y), String(y)]; })),
      venue: select("Venue", "venue", [["peer-reviewed", "any peer-reviewed venue"], ["arXiv", "preprints (arXiv)"]].concat(
        unique(rows.map(function (r) { return r.venue.replace(/\s+\d{4}$/, ""); }).filter(function (v) { return v && v !== "arXiv"; }))
          .map(function (v) { return [v, v]; }))),
      sort: select("Sort", "sort", [["year-desc", "newest first"], ["year-asc", "oldest first"], ["title", "title A-Z"], ["results", "most results"]])
    };
    controls.sort.options[0].remove(); // sorting always has a value
    var count = el("p", {class: "atlas-explorer-count", "aria-live": "polite"});
    var list = el("ol", {class: "atlas-explorer-rows"});
    var more = el("button", {type: "button", class: "atlas-explorer-more", text: "Show more"});
    var bib = null;

    function matches(r, v) {
      if (v.q && v.q.split(/\s+/).some(function (w) { return r._search.indexOf(w) < 0; })) return false;
      if (v.chapter && r.chapter !== v.chapter && !r.topics.some(function (t) { return topicChapter[t] === v.chapter; })) return false;
      if (v.topic && r.topics.indexOf(v.topic) < 0) return false;
      if (v.stage && r.stages.indexOf(v.stage) < 0) return false;
      if (v.kind && r.kind !== v.kind) return false;
      if (v.from && r.year < +v.from) return false;
      if (v.to && r.year > +v.to) return false;
      if (v.venue === "peer-reviewed" && !r.peer_reviewed) return false;
      if (v.venue === "arXiv" && r.peer_reviewed) return false;
      if (v.venue && v.venue !== "peer-reviewed" && v.venue !== "arXiv" && r.venue.replace(/\s+\d{4}$/, "") !== v.venue) return false;
      return true;
    }
    var topicChapter = {};
    data.topics.forEach(function (t) { topicChapter[t.id] = t.chapter; });

    function bibtexOf(key) {
      if (bib) return Promise.resolve(bib[key] || "");
      return fetch(data.bibtex).then(function (r) { return r.text(); }).then(function (text) {
        bib = {};
        text.split(/\n(?=@)/).forEach(function (entry) {
          var m = /^@\w+\s*\{\s*([^,\s]+)\s*,/.exec(entry.trim());
          if (m) bib[m[1]] = entry.trim() + "\n";
        });
        return bib[key] || "";
      });
    }

    function row(r) {
      var chapterLink = chapterPage[r.chapter] ? link(chapterTitle[r.chapter], chapterPage[r.chapter]) : el("span", {text: chapterTitle[r.chapter] || r.chapter});
      var copy = el("button", {type: "button", class: "atlas-bibtex-copy", text: "Copy BibTeX", "data-key": r.key});
      var save = el("button", {type: "button", class: "atlas-bibtex-save", text: "Download .bib", "data-key": r.key});
      copy.addEventListener("click", function () {
        bibtexOf(r.key).then(function (text) {
          var done = function () { copy.textContent = "Copied"; };
          if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, function () { showBib(text); });
          else showBib(text);
        });
      });
      save.addEventListener("click", function () {
        bibtexOf(r.key).then(function (text) {
          var a = el("a", {href: URL.createObjectURL(new Blob([text], {type: "application/x-bibtex"})), download: r.key + ".bib"});
          document.body.appendChild(a); a.click(); a.remove();
        });
      });
      var pre = el("pre", {class: "atlas-bibtex", hidden: "hidden"});
      function showBib(text) { pre.textContent = text; pre.hidden = false; }
      var meta = [r.authors, String(r.year), r.venue].filter(Boolean).join(" · ");
      return el("li", {class: "atlas-paper", "data-key": r.key}, [
        el("div", {class: "atlas-paper-title"}, [safeUrl(r.url) ? link(r.title, r.url) : el("span", {text: r.title})]),
        el("div", {class: "atlas-paper-meta", text: meta}),
        el("div", {class: "atlas-paper-summary", text: r.summary}),
        el("div", {class: "atlas-paper-links"}, [
          chapterLink,
          el("span", {text: " · " + r.topics.map(function (t) { return topicTitle[t] || t; }).join(", ") + " · " + r.kind + " · "}),
          safeUrl(r.code) ? link("code", r.code) : null,
          safeUrl(r.code) ? el("span", {text: " · "}) : null,
          copy, save
        ]),
        pre
      ]);
    }

    var shown = [], drawn = 0;
    function draw(reset) {
      if (reset) { list.textContent = ""; drawn = 0; }
      var next = shown.slice(drawn, drawn + PAGE);
      var frag = document.createDocumentFragment();
      next.forEach(function (r) { frag.appendChild(row(r)); });
      list.appendChild(frag);
      drawn += next.length;
      more.hidden = drawn >= shown.length;
    }
    function update() {
      var v = {};
      Object.keys(controls).forEach(function (k) { v[k] = k === "q" ? normal(controls[k].value).trim() : controls[k].value; });
      shown = rows.filter(function (r) { return matches(r, v); });
      var by = v.sort;
      shown.sort(function (a, b) {
        if (by === "title") return a.title.localeCompare(b.title);
        if (by === "results") return b.results - a.results || b.year - a.year;
        if (by === "year-asc") return a.year - b.year || a.title.localeCompare(b.title);
        return b.year - a.year || a.title.localeCompare(b.title);
      });
      count.textContent = shown.length + " of " + rows.length + " papers";
      draw(true);
      root.setAttribute("data-shown", String(shown.length));
    }
    Object.keys(controls).forEach(function (k) { controls[k].addEventListener(k === "q" ? "input" : "change", update); });
    more.addEventListener("click", function () { draw(false); });
    root.textContent = "";
    root.appendChild(el("div", {class: "atlas-explorer-controls"}, Object.keys(controls).map(function (k) { return controls[k]; })));
    root.appendChild(count);
    root.appendChild(list);
    root.appendChild(more);
    update();
  }

  // ---- results ----------------------------------------------------------------------------
  function results(root, data) {
    var chapterTitle = {};
    data.chapters.forEach(function (c) { chapterTitle[c.id] = c.title; });
    var rows = data.rows.map(function (r) {
      r._search = normal(r.title + " " + r.label + " " + r.setting + " " + r.baseline + " " + r.key);
      return r;
    });
    var controls = {
      q: el("input", {type: "search", name: "q", placeholder: "Search papers, settings and baselines", "aria-label": "Search papers, settings and baselines"}),
      chapter: select("Chapter", "chapter", data.chapters.map(function (c) { return [c.id, c.title]; })),
      metric: select("Metric", "metric", data.metrics.filter(function (m) {
        return rows.some(function (r) { return r.metric === m.id; });
      }).map(function (m) { return [m.id, m.title + (m.unit ? " (" + m.unit + ")" : "")]; }))
    };
    var count = el("p", {class: "atlas-explorer-count", "aria-live": "polite"});
    var table = el("table", {class: "atlas-results table"});
    var head = el("thead", {}, [el("tr", {}, ["Paper", "Metric", "Reported", "Against", "Setting", "Where"].map(function (h) {
      return el("th", {scope: "col", text: h});
    }))]);
    var body = el("tbody");
    table.appendChild(head);
    table.appendChild(body);
    var more = el("button", {type: "button", class: "atlas-explorer-more", text: "Show more"});
    var shown = [], drawn = 0;
    function fmt(r) {
      var v = String(+r.value.toPrecision(4));
      return r.unit === "x" ? v + "x" : r.unit === "%" ? v + "%" : v + (r.unit ? " " + r.unit : "");
    }
    function draw(reset) {
      if (reset) { body.textContent = ""; drawn = 0; }
      shown.slice(drawn, drawn + PAGE).forEach(function (r) {
        var against = r.baseline + (r.baseline_value !== null ? " (" + r.baseline_value + ")" : "");
        body.appendChild(el("tr", {}, [
          el("td", {}, [safeUrl(r.url) ? link(r.label, r.url) : el("span", {text: r.label}), el("br"), el("small", {text: String(r.year)})]),
          el("td", {text: r.metric_title + (r.precision ? " · " + r.precision : "")}),
          el("td", {text: fmt(r)}),
          el("td", {text: against}),
          el("td", {text: r.setting}),
          el("td", {text: r.where})
        ]));
      });
      drawn = Math.min(shown.length, drawn + PAGE);
      more.hidden = drawn >= shown.length;
    }
    function update() {
      var q = normal(controls.q.value).trim(), ch = controls.chapter.value, m = controls.metric.value;
      shown = rows.filter(function (r) {
        return (!q || q.split(/\s+/).every(function (w) { return r._search.indexOf(w) >= 0; })) &&
          (!ch || r.chapter === ch) && (!m || r.metric === m);
      });
      count.textContent = shown.length + " of " + rows.length + " reported results";
      root.setAttribute("data-shown", String(shown.length));
      draw(true);
    }
    Object.keys(controls).forEach(function (k) { controls[k].addEventListener(k === "q" ? "input" : "change", update); });
    more.addEventListener("click", function () { draw(false); });
    root.textContent = "";
    root.appendChild(el("div", {class: "atlas-explorer-controls"}, Object.keys(controls).map(function (k) { return controls[k]; })));
    root.appendChild(count);
    root.appendChild(el("div", {class: "atlas-results-scroll"}, [table]));
    root.appendChild(more);
    update();
  }

  window.atlasExplorer = function (id) {
    var root = document.getElementById(id);
    var data = JSON.parse(document.getElementById(id + "-data").textContent);
    (data.kind === "results" ? results : papers)(root, data);
  };
})();
