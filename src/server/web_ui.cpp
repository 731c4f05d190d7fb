// server/web_ui.cpp — the page itself. It talks to the same webui routes any client uses
// (samplers, schedulers, txt2img, progress, interrupt), so it doubles as a worked example of them.
#include "server/web_ui.h"

namespace difu::server {
namespace {

constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>difu</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; background: #15171a; color: #e8e8e8; }
  main { display: grid; grid-template-columns: minmax(280px, 420px) 1fr; gap: 24px; padding: 24px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  label { display: block; margin: 10px 0 4px; color: #aab; font-size: 13px; }
  textarea, input, select, button { width: 100%; box-sizing: border-box; font: inherit; color: inherit;
    background: #22252a; border: 1px solid #3a3f47; border-radius: 6px; padding: 7px; }
  textarea { min-height: 84px; resize: vertical; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
  .buttons { display: grid; grid-template-columns: 2fr 1fr; gap: 10px; margin-top: 16px; }
  button { cursor: pointer; background: #2f6fde; border: 0; font-weight: 600; }
  button.secondary { background: #444a53; }
  button:disabled { opacity: .5; cursor: default; }
  progress { width: 100%; height: 14px; margin-top: 14px; }
  #status { min-height: 1.3em; margin-top: 6px; color: #aab; font-size: 13px; }
  #result img { max-width: 100%; image-rendering: pixelated; border-radius: 6px; background: #000; }
  #info { white-space: pre-wrap; font: 12px ui-monospace, monospace; color: #aab; margin-top: 10px; }
  .error { color: #ff8080 !important; }
</style>
</head>
<body>
<main>
<section>
  <h1>difu</h1>
  <label for="prompt">Prompt</label>
  <textarea id="prompt">a photograph of an astronaut riding a horse</textarea>
  <label for="negative">Negative prompt</label>
  <textarea id="negative" style="min-height:44px"></textarea>
  <div class="row">
    <div><label for="sampler">Sampler</label><select id="sampler"></select></div>
    <div><label for="scheduler">Schedule type</label><select id="scheduler"></select></div>
  </div>
  <div class="row">
    <div><label for="steps">Steps</label><input id="steps" type="number" min="1" value="20"></div>
    <div><label for="cfg">CFG scale</label><input id="cfg" type="number" min="0" step="0.5" value="7"></div>
  </div>
  <div class="row">
    <div><label for="width">Width</label><input id="width" type="number" min="64" step="8" value="512"></div>
    <div><label for="height">Height</label><input id="height" type="number" min="64" step="8" value="512"></div>
  </div>
  <div class="row">
    <div><label for="seed">Seed (-1 = random)</label><input id="seed" type="number" value="-1"></div>
    <div><label for="apikey">API key (if the server needs one)</label><input id="apikey" type="password"></div>
  </div>
  <div class="buttons">
    <button id="generate">Generate</button>
    <button id="interrupt" class="secondary" disabled>Interrupt</button>
  </div>
  <progress id="progress" max="1" value="0"></progress>
  <div id="status">Ready.</div>
</section>
<section id="result">
  <img id="image" alt="" hidden>
  <div id="info"></div>
</section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
$("apikey").value = localStorage.getItem("difu-api-key") || "";

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const init = body === undefined ? { headers: headers() } : { method: "POST", headers: headers(), body: JSON.stringify(body) };
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error || res.status) + ": " + (data.detail || res.statusText));
  return data;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!isError);
}

async function loadLists() {
  try {
    for (const s of await api("/sdapi/v1/samplers")) $("sampler").add(new Option(s.name, s.name, s.name === "Euler a"));
    for (const s of await api("/sdapi/v1/schedulers")) $("scheduler").add(new Option(s.label, s.name));
  } catch (e) { status(e.message, true); }
}

let polling = null;
async function poll() {
  try {
    const p = await api("/sdapi/v1/progress");
    $("progress").value = p.progress;
    if (p.state.sampling_steps > 0)
      status(`Step ${p.state.sampling_step} / ${p.state.sampling_steps}` +
             (p.state.job_count > 1 ? `, batch ${p.state.job_no + 1} / ${p.state.job_count}` : "") +
             (p.eta_relative > 0 ? `, about ${p.eta_relative.toFixed(1)} s left` : ""));
  } catch (e) { /* the next poll will tell */ }
}

async function generate() {
  localStorage.setItem("difu-api-key", $("apikey").value.trim());
  const body = {
    prompt: $("prompt").value, negative_prompt: $("negative").value,
    sampler_name: $("sampler").value, scheduler: $("scheduler").value,
    steps: Number($("steps").value), cfg_scale: Number($("cfg").value),
    width: Number($("width").value), height: Number($("height").value), seed: Number($("seed").value),
  };
  $("generate").disabled = true;
  $("interrupt").disabled = false;
  $("progress").value = 0;
  status("Queued...");
  polling = setInterval(poll, 500);
  const t0 = performance.now();
  try {
    const r = await api("/sdapi/v1/txt2img", body);
    const info = JSON.parse(r.info);
    if (r.images.length > 0) {
      $("image").src = "data:image/png;base64," + r.images[0];
      $("image").hidden = false;
    }
    $("info").textContent = (info.infotexts[0] || "") +
      (info.ignored_fields.length ? "\nIgnored: " + info.ignored_fields.join(", ") : "");
    $("progress").value = 1;
    status((info.interrupted ? "Interrupted" : "Done") + ` in ${((performance.now() - t0) / 1000).toFixed(1)} s, seed ${info.seed}.`);
  } catch (e) {
    status(e.message, true);
  } finally {
    clearInterval(polling);
    $("generate").disabled = false;
    $("interrupt").disabled = true;
  }
}

$("generate").addEventListener("click", generate);
$("interrupt").addEventListener("click", () => api("/sdapi/v1/interrupt", {}).catch((e) => status(e.message, true)));
loadLists();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view web_ui_html() { return kPage; }

}  // namespace difu::server
