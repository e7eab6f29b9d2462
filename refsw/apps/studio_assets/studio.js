// gfv-studio page: playback, edit sliders, base picture, parameter plot cursor, export.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, index: 0, render: "decoded", done: true, playing: null, pending: 0 };

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.dataset.state = kind;
}

function show(i) {
  state.index = i;
  if ($("input")) $("input").src = `/picture/input/${i}.png`;
  $("decoded").src = `/picture/decoded/${i}.png`;
  // until the whole rendering is done, the server previews the picture alone (not cached)
  $("edited").src = `/picture/edited/${state.render}/${i}.png${state.done ? "" : "?preview"}`;
  $("scrub").value = i;
  $("picture-number").textContent = `${i} / ${state.info.pictures - 1} (${state.info.kinds[i]})`;
  const [left, right] = state.info.plot_axes;
  const [first, last] = state.info.plot_span;
  const x = left + ((i - first) / Math.max(last - first, 1)) * (right - left);
  $("cursor").style.left = `${100 * x}%`;
}

function togglePlay() {
  if (state.playing) {
    clearInterval(state.playing);
    state.playing = null;
    $("play").textContent = "play";
    return;
  }
  $("play").textContent = "pause";
  // a picture waits until the previous ones have loaded (previews take a while to synthesise)
  const loaded = () => [...document.querySelectorAll(".pictures img")].every((img) => img.complete);
  state.playing = setInterval(() => loaded() && show((state.index + 1) % state.info.pictures), 1000 / state.info.fps);
}

function editValues() {
  const values = {};
  for (const el of document.querySelectorAll("input.edit")) values[el.dataset.key] = Number(el.value);
  return values;
}

async function post(url, body) {
  const response = await fetch(url, body instanceof FormData
    ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function render() {
  const ticket = ++state.pending;
  setStatus("rendering", "rendering");
  try {
    const data = await post("/api/render", { values: editValues(), base: $("base").value || null });
    if (ticket !== state.pending) return;  // a newer request is under way
    state.render = data.id;
    state.done = data.done;
    show(state.index);
    let seconds = null;
    while (!state.done) {
      setStatus("preview of this picture; rendering the whole video", "rendering");
      await sleep(250);
      if (ticket !== state.pending) return;
      const response = await fetch(`/api/render/${data.id}`);
      const status = await response.json();
      if (!response.ok) throw new Error(status.error || response.statusText);
      state.done = status.done;
      seconds = status.seconds;
    }
    $("plot").src = `/plot/${data.id}.png`;
    show(state.index);
    setStatus(seconds === null ? "ready" : `ready (whole video rendered in ${seconds} s)`, "ready");
  } catch (err) {
    if (ticket === state.pending) setStatus(err.message, "error");
  }
}

async function upload() {
  const file = $("base-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const data = await post("/api/base", form);
    const option = new Option(`${data.name} (${data.width}x${data.height})`, data.id);
    $("base").add(option);
    $("base").value = data.id;
    await render();
  } catch (err) {
    setStatus(err.message, "error");
  }
}

async function exportVideo() {
  const el = $("export-status");
  el.dataset.state = "writing";
  el.textContent = "writing";
  try {
    const data = await post("/api/export", {
      values: editValues(), base: $("base").value || null,
      path: $("export-path").value, overwrite: $("export-overwrite").checked,
    });
    el.dataset.state = "done";
    el.innerHTML = "";
    el.append(`${data.pictures} pictures -> ${data.path} `);
    const link = document.createElement("a");
    link.href = data.download;
    link.textContent = "download";
    el.append(link);
  } catch (err) {
    el.dataset.state = "error";
    el.textContent = err.message;
  }
}

async function start() {
  state.info = await (await fetch("/api/info")).json();
  $("scrub").max = state.info.pictures - 1;
  $("plot").src = "/plot/decoded.png";
  for (const el of document.querySelectorAll("input.edit")) {
    el.addEventListener("input", () => { $(`value-${el.dataset.key}`).textContent = el.value; });
    el.addEventListener("change", render);
  }
  $("reset").addEventListener("click", () => {
    for (const el of document.querySelectorAll("input.edit")) {
      el.value = el.dataset.neutral;
      $(`value-${el.dataset.key}`).textContent = el.value;
    }
    render();
  });
  $("scrub").addEventListener("input", () => show(Number($("scrub").value)));
  $("play").addEventListener("click", togglePlay);
  $("base").addEventListener("change", render);
  $("base-file").addEventListener("change", upload);
  $("export").addEventListener("click", exportVideo);
  show(0);
  setStatus(`ready: ${state.info.pictures} pictures at ${state.info.fps} Hz, ${state.info.generator || "no generator"}`, "ready");
}

start().catch((err) => setStatus(err.message, "error"));
