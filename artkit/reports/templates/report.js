/* artkit report: sortable tables and paged, filtered image galleries.
   Vanilla JavaScript inlined into the page: nothing is fetched, no library is needed. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var LABELLED = 3;  /* the best boxes of a photo that show their score */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  /* ---- sortable tables: click (or Enter on) a header; numbers sort as numbers ---- */
  function cellKey(cell) {
    if (!cell) return null;
    if (cell.hasAttribute("data-v")) {
      var raw = cell.getAttribute("data-v");
      return raw === "" ? null : parseFloat(raw);
    }
    var text = cell.textContent.trim();
    return text === "" || text === "\u2013" ? null : text.toLowerCase();
  }

  function compareKeys(a, b) {
    var na = typeof a === "number", nb = typeof b === "number";
    if (na && nb) return a - b;
    if (na !== nb) return na ? -1 : 1;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function makeSortable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th, column) {
      th.tabIndex = 0;
      th.title = "sort by " + th.textContent.trim();
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        each(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var keyed = Array.prototype.map.call(body.rows, function (row, index) {
          return { key: cellKey(row.cells[column]), index: index, row: row };
        });
        keyed.sort(function (x, y) {
          if (x.key === null || y.key === null) {  /* empty cells last, either way */
            return (x.key === null) - (y.key === null) || x.index - y.index;
          }
          var order = compareKeys(x.key, y.key);
          return (ascending ? order : -order) || x.index - y.index;
        });
        var fragment = document.createDocumentFragment();
        keyed.forEach(function (k) { fragment.appendChild(k.row); });
        body.appendChild(fragment);
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  }

  /* ---- galleries: items come as JSON; one page of tiles is in the document at a time ---- */
  function Gallery(section) {
    var data = JSON.parse(document.getElementById(section.getAttribute("data-source")).textContent);
    var self = this;
    this.section = section;
    this.items = data.items;
    this.pageSize = data.pageSize;
    this.page = 0;
    this.tiles = section.querySelector(".tiles");
    this.counts = section.querySelectorAll(".gallery-count");
    this.search = section.querySelector("[data-search]");
    this.order = section.querySelector("[data-order]");
    this.scoreMin = section.querySelector("[data-score='min']");
    this.scoreMax = section.querySelector("[data-score='max']");
    this.boxMin = section.querySelector("[data-box-min]");
    this.boxTop = section.querySelector("[data-box-top]");
    each(section.querySelectorAll(".controls select, .controls input"), function (control) {
      if (control.hasAttribute("data-toggle")) {
        control.addEventListener("change", function () {
          self.tiles.classList.toggle(control.getAttribute("data-toggle"), !control.checked);
        });
        return;
      }
      var live = control.type === "search" || control.type === "number";
      control.addEventListener(live ? "input" : "change", function () {
        self.page = 0;
        self.update();
      });
    });
    each(section.querySelectorAll("[data-page]"), function (button) {
      button.addEventListener("click", function () {
        self.page += button.getAttribute("data-page") === "next" ? 1 : -1;
        self.update();
        self.section.scrollIntoView({ block: "start" });
      });
    });
    this.update();
  }

  Gallery.prototype.bounds = function () {
    function read(input, fallback) {
      if (!input || input.value === "") return fallback;
      var value = parseFloat(input.value);
      return isNaN(value) ? fallback : value;
    }
    return [read(this.scoreMin, -Infinity), read(this.scoreMax, Infinity)];
  };

  Gallery.prototype.filtered = function () {
    var wanted = [];
    each(this.section.querySelectorAll("select[data-filter]"), function (select) {
      if (select.value) wanted.push([select.getAttribute("data-filter"), select.value]);
    });
    var bounds = this.bounds();
    var full = (!this.scoreMin || bounds[0] <= parseFloat(this.scoreMin.min)) &&
               (!this.scoreMax || bounds[1] >= parseFloat(this.scoreMax.max));
    var text = this.search ? this.search.value.trim().toLowerCase() : "";
    var shown = this.items.filter(function (item) {
      for (var k = 0; k < wanted.length; k++) {
        var values = (item.f && item.f[wanted[k][0]]) || [];
        if (values.indexOf(wanted[k][1]) < 0) return false;
      }
      if (!full) {
        if (item.score === null || item.score === undefined) return false;
        if (item.score < bounds[0] || item.score > bounds[1]) return false;
      }
      if (text && (item.path || item.name || "").toLowerCase().indexOf(text) < 0) return false;
      return true;
    });
    var order = this.order ? this.order.value : "given";
    function score(item, missing) {
      return item.score === null || item.score === undefined ? missing : item.score;
    }
    if (order === "score-asc") {
      shown.sort(function (a, b) { return score(a, Infinity) - score(b, Infinity); });
    } else if (order === "score-desc") {
      shown.sort(function (a, b) { return score(b, -Infinity) - score(a, -Infinity); });
    } else if (order === "name") {
      shown.sort(function (a, b) {
        return (a.name || "").localeCompare(b.name || "", undefined, { numeric: true });
      });
    }
    return shown;
  };

  Gallery.prototype.update = function () {
    var shown = this.filtered();
    var pages = Math.max(1, Math.ceil(shown.length / this.pageSize));
    this.page = Math.max(0, Math.min(this.page, pages - 1));
    var start = this.page * this.pageSize;
    var fragment = document.createDocumentFragment();
    var self = this;
    shown.slice(start, start + this.pageSize).forEach(function (item) {
      fragment.appendChild(self.tile(item));
    });
    this.tiles.textContent = "";
    this.tiles.appendChild(fragment);
    var text = shown.length + " of " + this.items.length + " images" +
      (pages > 1 ? " \u00b7 page " + (this.page + 1) + " of " + pages : "");
    each(this.counts, function (count) {
      count.textContent = text;
      count.setAttribute("data-count", String(shown.length));
    });
    var page = this.page;
    each(this.section.querySelectorAll("[data-page]"), function (button) {
      var next = button.getAttribute("data-page") === "next";
      button.disabled = next ? page >= pages - 1 : page <= 0;
    });
    if (!shown.length) this.tiles.appendChild(el("p", "empty", "No image matches these filters."));
    this.section.setAttribute("data-shown", String(shown.length));
  };

  Gallery.prototype.overlay = function (item) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + item.w + " " + item.h);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "boxes");
    var size = Math.max(item.w, item.h) / 28;
    var least = this.boxMin ? parseFloat(this.boxMin.value) || 0 : 0;
    var top = this.boxTop ? parseInt(this.boxTop.value, 10) || 0 : 0;
    var rank = 0;  /* predicted boxes come best first */
    item.boxes.forEach(function (box) {
      var predicted = box[6] !== null && box[6] !== undefined;
      if (predicted) {
        if (box[6] < least || (top && rank >= top)) return;
        rank += 1;
      }
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", box[0]);
      rect.setAttribute("y", box[1]);
      rect.setAttribute("width", Math.max(box[2] - box[0], 1));
      rect.setAttribute("height", Math.max(box[3] - box[1], 1));
      rect.setAttribute("class", "box " + box[4]);
      svg.appendChild(rect);
      if (box[5] && (!predicted || rank <= LABELLED)) {
        var label = document.createElementNS(SVG, "text");
        var right = box[0] > item.w * 0.8;  /* near the right edge: end the text there */
        label.setAttribute("x", right ? box[2] - size * 0.2 : box[0] + size * 0.2);
        if (right) label.setAttribute("text-anchor", "end");
        label.setAttribute("y", box[1] + size);
        label.setAttribute("font-size", size);
        label.setAttribute("class", "label " + box[4]);
        label.textContent = box[5];
        svg.appendChild(label);
      }
    });
    return svg;
  };

  Gallery.prototype.tile = function (item) {
    var tile = el("figure", "tile");
    var frame = el(item.href ? "a" : "div", "frame");
    if (item.href) { frame.href = item.href; frame.target = "_blank"; frame.rel = "noopener"; }
    frame.title = item.path || item.name || "";
    if (item.src) {
      var image = el("img");
      image.loading = "lazy";
      image.decoding = "async";
      image.alt = item.name || "";
      image.src = item.src;
      if (item.w && item.h && item.boxes) {
        frame.classList.add("photo");
        frame.style.aspectRatio = item.w + " / " + item.h;
        frame.appendChild(image);
        frame.appendChild(this.overlay(item));
      } else {
        frame.appendChild(image);
      }
    } else {
      tile.classList.add("broken");
      frame.appendChild(el("div", "placeholder", "cannot show this image: " +
                           (item.err || "unknown reason")));
    }
    tile.appendChild(frame);
    var caption = el("figcaption");
    caption.appendChild(el("div", "name", item.name || ""));
    (item.lines || []).forEach(function (line) {
      caption.appendChild(el("div", "line " + line[0], line[1]));
    });
    if (item.crops) {
      var strip = el("div", "crops");
      item.crops.forEach(function (src) {
        var crop = el("img");
        crop.loading = "lazy";
        crop.src = src;
        crop.alt = "crop";
        strip.appendChild(crop);
      });
      caption.appendChild(strip);
    }
    tile.appendChild(caption);
    return tile;
  };

  function start() {
    each(document.querySelectorAll("table.sortable"), makeSortable);
    var galleries = [];
    each(document.querySelectorAll("section.gallery[data-source]"), function (section) {
      galleries.push(new Gallery(section));
    });
    window.artkitReport = { galleries: galleries };
    document.documentElement.setAttribute("data-ready", "1");
    if (window.performance && performance.mark) performance.mark("artkit-gallery-ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
