// artkit serve's page: send each dropped photo to the endpoints this server offers, and
// show the answers. Plain script, no library, nothing fetched from anywhere but this server.
"use strict";

const tokenInput = document.getElementById("token");
const resultsBox = document.getElementById("results");
const statusLine = document.getElementById("status");
let endpoints = [];
let pending = 0;

tokenInput.value = sessionStorage.getItem("artkit-token") || "";
tokenInput.addEventListener("input", () => {
  sessionStorage.setItem("artkit-token", tokenInput.value);
  loadModels();
});

function headers() {
  const token = tokenInput.value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

async function call(url, options = {}) {
  const response = await fetch(url, { ...options, headers: headers() });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${message}`);
  }
  return response;
}

async function loadModels() {
  const line = document.getElementById("models");
  try {
    const answer = await (await call("/v1/models")).json();
    endpoints = answer.endpoints;
    const names = Object.entries(answer.models).map(([name, card]) =>
      `${name}: ${card.file || card.method || ""}`);
    line.textContent = names.join(" · ");
  } catch (error) {
    endpoints = [];
    line.textContent = `models: ${error.message}`;
  }
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function figure(src, caption) {
  const box = element("figure");
  const image = element("img");
  image.src = src;
  image.alt = caption;
  box.append(image, element("figcaption", caption));
  return box;
}

async function reference(url) {  // the reference images need the token too
  const blob = await (await call(url)).blob();
  return URL.createObjectURL(blob);
}

function upload(endpoint, file, query = "") {
  const form = new FormData();
  form.append("file", file, file.name);
  return call(endpoint + query, { method: "POST", body: form }).then(r => r.json());
}

function drawBoxes(canvas, image, found) {
  const scale = Math.min(1, 560 / image.naturalWidth);
  canvas.width = Math.round(image.naturalWidth * scale);
  canvas.height = Math.round(image.naturalHeight * scale);
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  // the photo's own pixels: the server reports boxes in the photo's size
  const sx = canvas.width / found.size[1], sy = canvas.height / found.size[0];
  context.lineWidth = 3;
  context.font = "bold 13px system-ui, sans-serif";
  found.boxes.forEach((box, i) => {
    context.strokeStyle = "#e74c3c";
    const quad = found.quads && found.quads[i];
    context.beginPath();
    if (quad) {
      quad.forEach(([x, y], k) => k ? context.lineTo(x * sx, y * sy) : context.moveTo(x * sx, y * sy));
      context.closePath();
    } else {
      context.rect(box[0] * sx, box[1] * sy, (box[2] - box[0]) * sx, (box[3] - box[1]) * sy);
    }
    context.stroke();
    const label = `${i + 1} · ${found.scores[i].toFixed(2)}`;
    context.fillStyle = "#e74c3c";
    context.fillRect(box[0] * sx, box[1] * sy - 17, context.measureText(label).width + 8, 17);
    context.fillStyle = "#fff";
    context.fillText(label, box[0] * sx + 4, box[1] * sy - 4);
  });
}

function showPrediction(card, answer) {
  const list = card.querySelector(".labels");
  for (const [label, score] of answer.top) {
    const item = element("li", `${label} ${score.toFixed(3)}`);
    const bar = element("span", undefined, "bar");
    bar.style.width = `${Math.round(score * 80)}px`;
    item.append(bar);
    list.append(item);
  }
  card.querySelector(".predict").hidden = false;
}

function showDetection(card, image, answer) {
  drawBoxes(card.querySelector("canvas"), image, answer);
  const count = answer.boxes.length;
  card.querySelector(".found").textContent =
    `${count} painting${count === 1 ? "" : "s"} found (${answer.method}); rectified crops:`;
  const crops = card.querySelector(".crops");
  (answer.crops || []).forEach((uri, i) => crops.append(figure(uri, `${i + 1}`)));
}

// The photo sent, then each match beside it: its reference image from the collection.
async function showMatches(section, query, neighbours) {
  const box = section.querySelector(".matches");
  box.append(figure(query, "this photo"));
  for (const match of neighbours) {
    const name = match.title || match.path.split(/[\\/]/).pop();
    const score = match.similarity ?? match.score;
    const shown = figure(await reference(match.reference),
                         `${name} ${score !== undefined ? score.toFixed(3) : ""}`);
    shown.className = "match";
    box.append(shown);
  }
  section.hidden = false;
}

async function analyse(file) {
  const card = document.getElementById("card").content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = file.name;
  resultsBox.prepend(card);
  const url = URL.createObjectURL(file);
  const image = new Image();
  await new Promise((resolve, reject) => { image.onload = resolve; image.onerror = resolve; image.src = url; });
  card.querySelector("figcaption").textContent =
    `${image.naturalWidth} × ${image.naturalHeight}, ${(file.size / 1024).toFixed(0)} KB`;
  const errors = card.querySelector(".errors");
  const jobs = [];
  const fail = (what) => (error) => { errors.textContent += `${what}: ${error.message}. `; };
  if (endpoints.includes("/v1/predict")) {
    jobs.push(upload("/v1/predict", file).then(a => showPrediction(card, a), fail("predict")));
  }
  jobs.push(upload("/v1/detect", file, "?crops=true")
    .then(a => showDetection(card, image, a), fail("detect")));
  for (const name of ["identify", "similar"]) {
    if (endpoints.includes(`/v1/${name}`)) {
      const section = card.querySelector(`.${name}`);
      jobs.push(upload(`/v1/${name}`, file)
        .then(a => showMatches(section, url, a.neighbours || a.matches || []), fail(name)));
    }
  }
  await Promise.all(jobs);
  card.dataset.done = "1";
}

async function analyseAll(files) {
  const images = Array.from(files);
  pending += images.length;
  statusLine.textContent = `working on ${pending} photo(s)…`;
  await Promise.all(images.map(f => analyse(f).finally(() => {
    pending -= 1;
    statusLine.textContent = pending ? `working on ${pending} photo(s)…` : "";
  })));
}

const drop = document.getElementById("drop");
document.getElementById("files").addEventListener("change", (event) => analyseAll(event.target.files));
["dragenter", "dragover"].forEach(kind => drop.addEventListener(kind, (event) => {
  event.preventDefault();
  drop.classList.add("over");
}));
["dragleave", "drop"].forEach(kind => drop.addEventListener(kind, () => drop.classList.remove("over")));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  analyseAll(event.dataTransfer.files);
});

loadModels().then(() => document.documentElement.setAttribute("data-ready", "1"));
