// server/web_ui.cpp — the page itself: txt2img with the hires fix, img2img and inpainting (an init image
// and a mask painted over it), live previews while sampling, and a gallery of this page's pictures whose
// parameters can be reused. It talks to the same webui routes any client uses (samplers, schedulers,
// txt2img, img2img, progress, interrupt), so it doubles as a worked example of them.
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
  main { display: grid; grid-template-columns: minmax(280px, 440px) 1fr; gap: 24px; padding: 24px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  label { display: block; margin: 10px 0 4px; color: #aab; font-size: 13px; }
  textarea, input, select, button { width: 100%; box-sizing: border-box; font: inherit; color: inherit;
    background: #22252a; border: 1px solid #3a3f47; border-radius: 6px; padding: 7px; }
  input[type=checkbox] { width: auto; margin-right: 6px; }
  input[type=range] { padding: 0; }
  textarea { min-height: 84px; resize: vertical; }
  fieldset { border: 1px solid #3a3f47; border-radius: 8px; margin: 14px 0 0; padding: 4px 12px 12px; }
  legend { color: #aab; font-size: 13px; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
  .row3 { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 10px; }
  .tabs { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; margin-bottom: 6px; }
  .tabs button { background: #2a2e34; }
  .tabs button.active { background: #2f6fde; }
  .buttons { display: grid; grid-template-columns: 2fr 1fr; gap: 10px; margin-top: 16px; }
  button { cursor: pointer; background: #2f6fde; border: 0; font-weight: 600; }
  button.secondary { background: #444a53; }
  button:disabled { opacity: .5; cursor: default; }
  progress { width: 100%; height: 14px; margin-top: 14px; }
  #status { min-height: 1.3em; margin-top: 6px; color: #aab; font-size: 13px; }
  #result img, #preview { max-width: 100%; image-rendering: pixelated; border-radius: 6px; background: #000; }
  #info { white-space: pre-wrap; font: 12px ui-monospace, monospace; color: #aab; margin-top: 10px; }
  #canvaswrap { position: relative; margin-top: 8px; line-height: 0; }
  #canvaswrap canvas { width: 100%; border-radius: 6px; }
  #maskcanvas { position: absolute; left: 0; top: 0; opacity: .55; cursor: crosshair; touch-action: none; }
  #gallery { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 14px; }
  #gallery img { width: 72px; height: 72px; object-fit: cover; border-radius: 4px; cursor: pointer; border: 2px solid transparent; }
  #gallery img.selected { border-color: #2f6fde; }
  .inline { display: flex; align-items: center; color: #aab; font-size: 13px; margin-top: 10px; }
  .error { color: #ff8080 !important; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
<section>
  <h1>difu</h1>
  <div class="tabs"><button id="tab-txt2img" class="active">txt2img</button><button id="tab-img2img">img2img / inpaint</button></div>
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
  <fieldset id="hires-panel">
    <legend><label class="inline" style="margin:0"><input id="hr" type="checkbox">Hires fix</label></legend>
    <div class="row3">
      <div><label for="hrscale">Upscale by</label><input id="hrscale" type="number" min="1" max="8" step="0.25" value="2"></div>
      <div><label for="hrsteps">Hires steps (0 = same)</label><input id="hrsteps" type="number" min="0" value="0"></div>
      <div><label for="hrdenoise">Denoising</label><input id="hrdenoise" type="number" min="0" max="1" step="0.05" value="0.7"></div>
    </div>
    <label for="hrupscaler">Upscaler</label>
    <select id="hrupscaler">
      <option>Latent</option><option>Latent (antialiased)</option><option>Latent (bicubic)</option>
      <option>Latent (bicubic antialiased)</option><option>Latent (nearest)</option><option>Latent (nearest-exact)</option>
      <option>Lanczos</option><option>None</option>
    </select>
  </fieldset>
  <fieldset id="img2img-panel" hidden>
    <legend>Init image and mask</legend>
    <input id="initfile" type="file" accept="image/png,image/jpeg,image/webp">
    <div id="canvaswrap" hidden><canvas id="initcanvas"></canvas><canvas id="maskcanvas"></canvas></div>
    <div class="row3">
      <div><label for="brush">Brush <span id="brush-value">32</span> px</label><input id="brush" type="range" min="2" max="256" value="32"></div>
      <label class="inline"><input id="eraser" type="checkbox">Eraser</label>
      <div><label>&nbsp;</label><button id="maskclear" class="secondary">Clear mask</button></div>
    </div>
    <label for="strength">Denoising strength <span id="strength-value">0.75</span></label>
    <input id="strength" type="range" min="0" max="1" step="0.01" value="0.75">
    <div class="row">
      <div><label for="maskblur">Mask blur</label><input id="maskblur" type="number" min="0" max="64" value="4"></div>
      <div><label for="fill">Masked content</label>
        <select id="fill"><option value="0">fill</option><option value="1" selected>original</option>
        <option value="2">latent noise</option><option value="3">latent nothing</option></select></div>
    </div>
    <div class="row">
      <div><label for="area">Inpaint area</label>
        <select id="area"><option value="whole">Whole picture</option><option value="masked">Only masked</option></select></div>
      <div><label for="padding">Only masked padding</label><input id="padding" type="number" min="0" value="32"></div>
    </div>
    <label class="inline"><input id="maskinvert" type="checkbox">Inpaint not masked (invert)</label>
  </fieldset>
  <div class="buttons">
    <button id="generate">Generate</button>
    <button id="interrupt" class="secondary" disabled>Interrupt</button>
  </div>
  <progress id="progress" max="1" value="0"></progress>
  <div id="status">Ready.</div>
</section>
<section id="result">
  <img id="preview" alt="live preview" hidden>
  <img id="image" alt="" hidden>
  <div id="info"></div>
  <button id="reuse" class="secondary" style="width:auto;margin-top:10px" hidden>Reuse parameters</button>
  <div id="gallery"></div>
</section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
$("apikey").value = localStorage.getItem("difu-api-key") || "";
let mode = "txt2img";
let previews = 0;           // live previews shown during the last run (the browser test reads it)
const results = [];         // this page's pictures: {image, infotext, mode, body}
let selected = -1;

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

function setMode(m) {
  mode = m;
  $("tab-txt2img").classList.toggle("active", m === "txt2img");
  $("tab-img2img").classList.toggle("active", m === "img2img");
  $("img2img-panel").hidden = m !== "img2img";
  $("hires-panel").hidden = m !== "txt2img";
}

async function loadLists() {
  try {
    for (const s of await api("/sdapi/v1/samplers")) $("sampler").add(new Option(s.name, s.name, s.name === "Euler a"));
    for (const s of await api("/sdapi/v1/schedulers")) $("scheduler").add(new Option(s.label, s.name));
  } catch (e) { status(e.message, true); }
}

// ---- init image and mask painting ----
const init = $("initcanvas"), mask = $("maskcanvas");
let painted = false, drawing = false, last = null;

function loadInit(file) {
  const img = new Image();
  img.onload = () => {
    for (const c of [init, mask]) { c.width = img.naturalWidth; c.height = img.naturalHeight; }
    init.getContext("2d").drawImage(img, 0, 0);
    mask.getContext("2d").clearRect(0, 0, mask.width, mask.height);
    painted = false;
    $("canvaswrap").hidden = false;
    const side = (v) => Math.max(64, Math.min(2048, Math.floor(v / 8) * 8));
    $("width").value = side(img.naturalWidth);
    $("height").value = side(img.naturalHeight);
    URL.revokeObjectURL(img.src);
  };
  img.onerror = () => status("that file is not a picture this browser can read", true);
  img.src = URL.createObjectURL(file);
}

function canvasPoint(e) {
  const r = mask.getBoundingClientRect();
  return [(e.clientX - r.left) * mask.width / r.width, (e.clientY - r.top) * mask.height / r.height];
}

function stroke(to) {
  const g = mask.getContext("2d");
  g.globalCompositeOperation = $("eraser").checked ? "destination-out" : "source-over";
  g.strokeStyle = "#fff";
  g.fillStyle = "#fff";
  g.lineCap = g.lineJoin = "round";
  g.lineWidth = Number($("brush").value) * mask.width / mask.getBoundingClientRect().width;
  g.beginPath();
  g.moveTo(...(last || to));
  g.lineTo(...to);
  g.stroke();
  last = to;
  if (!$("eraser").checked) painted = true;
}

mask.addEventListener("pointerdown", (e) => { drawing = true; last = null; mask.setPointerCapture(e.pointerId); stroke(canvasPoint(e)); });
mask.addEventListener("pointermove", (e) => { if (drawing) stroke(canvasPoint(e)); });
for (const ev of ["pointerup", "pointercancel"]) mask.addEventListener(ev, () => { drawing = false; last = null; });

// The mask as webui takes it: white = repaint on black, at the init image's size.
function maskPng() {
  const out = document.createElement("canvas");
  out.width = mask.width;
  out.height = mask.height;
  const g = out.getContext("2d");
  g.fillStyle = "#000";
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(mask, 0, 0);
  return out.toDataURL("image/png");
}

// ---- generation ----
let polling = null;
async function poll() {
  try {
    const p = await api("/sdapi/v1/progress");
    $("progress").value = p.progress;
    if (p.current_image) {
      $("preview").src = "data:image/png;base64," + p.current_image;
      $("preview").hidden = false;
      $("image").hidden = true;
      ++previews;
    }
    if (p.state.sampling_steps > 0)
      status(`Step ${p.state.sampling_step} / ${p.state.sampling_steps}` +
             (p.state.job_count > 1 ? `, batch ${p.state.job_no + 1} / ${p.state.job_count}` : "") +
             (p.eta_relative > 0 ? `, about ${p.eta_relative.toFixed(1)} s left` : ""));
  } catch (e) { /* the next poll will tell */ }
}

function requestBody() {
  const body = {
    prompt: $("prompt").value, negative_prompt: $("negative").value,
    sampler_name: $("sampler").value, scheduler: $("scheduler").value,
    steps: Number($("steps").value), cfg_scale: Number($("cfg").value),
    width: Number($("width").value), height: Number($("height").value), seed: Number($("seed").value),
  };
  if (mode === "txt2img" && $("hr").checked)
    Object.assign(body, { enable_hr: true, hr_scale: Number($("hrscale").value), hr_second_pass_steps: Number($("hrsteps").value),
                          denoising_strength: Number($("hrdenoise").value), hr_upscaler: $("hrupscaler").value });
  if (mode === "img2img") {
    if ($("canvaswrap").hidden) throw new Error("img2img: choose an init image first");
    Object.assign(body, { init_images: [init.toDataURL("image/png")], denoising_strength: Number($("strength").value) });
    if (painted)
      Object.assign(body, { mask: maskPng(), mask_blur: Number($("maskblur").value), inpainting_fill: Number($("fill").value),
                            inpaint_full_res: $("area").value === "masked", inpaint_full_res_padding: Number($("padding").value),
                            inpainting_mask_invert: $("maskinvert").checked ? 1 : 0 });
  }
  return body;
}

function show(i) {
  selected = i;
  const r = results[i];
  $("image").src = "data:image/png;base64," + r.image;
  $("image").hidden = false;
  $("preview").hidden = true;
  $("info").textContent = r.infotext;
  $("reuse").hidden = false;
  [...$("gallery").children].forEach((el, k) => el.classList.toggle("selected", k === i));
}

function reuse() {
  const r = results[selected];
  if (!r) return;
  const b = r.body;
  setMode(r.mode);
  for (const [id, key] of [["prompt", "prompt"], ["negative", "negative_prompt"], ["sampler", "sampler_name"],
                           ["scheduler", "scheduler"], ["steps", "steps"], ["cfg", "cfg_scale"], ["width", "width"],
                           ["height", "height"]]) $(id).value = b[key];
  $("seed").value = r.seed;
  $("hr").checked = !!b.enable_hr;
  if (b.enable_hr) { $("hrscale").value = b.hr_scale; $("hrsteps").value = b.hr_second_pass_steps; $("hrdenoise").value = b.denoising_strength; }
  if (r.mode === "img2img") $("strength").value = b.denoising_strength;
  $("strength-value").textContent = $("strength").value;
  status("Parameters of picture " + (selected + 1) + " restored (its seed included).");
}

async function generate() {
  localStorage.setItem("difu-api-key", $("apikey").value.trim());
  let body;
  try { body = requestBody(); } catch (e) { status(e.message, true); return; }
  $("generate").disabled = true;
  $("interrupt").disabled = false;
  $("progress").value = 0;
  previews = 0;
  status("Queued...");
  polling = setInterval(poll, 250);
  const t0 = performance.now();
  try {
    const r = await api(mode === "txt2img" ? "/sdapi/v1/txt2img" : "/sdapi/v1/img2img", body);
    const info = JSON.parse(r.info);
    r.images.forEach((image, k) => {
      results.push({ image, infotext: info.infotexts[k] || "", mode, body, seed: info.all_seeds ? info.all_seeds[k] : info.seed });
      const thumb = new Image();
      thumb.src = "data:image/png;base64," + image;
      thumb.title = info.infotexts[k] || "";
      const index = results.length - 1;
      thumb.addEventListener("click", () => show(index));
      $("gallery").append(thumb);
    });
    if (r.images.length > 0) show(results.length - r.images.length);
    if (info.ignored_fields.length) $("info").textContent += "\nIgnored: " + info.ignored_fields.join(", ");
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

$("tab-txt2img").addEventListener("click", () => setMode("txt2img"));
$("tab-img2img").addEventListener("click", () => setMode("img2img"));
$("initfile").addEventListener("change", (e) => { if (e.target.files[0]) loadInit(e.target.files[0]); });
$("maskclear").addEventListener("click", () => { mask.getContext("2d").clearRect(0, 0, mask.width, mask.height); painted = false; });
$("brush").addEventListener("input", () => { $("brush-value").textContent = $("brush").value; });
$("strength").addEventListener("input", () => { $("strength-value").textContent = $("strength").value; });
$("reuse").addEventListener("click", reuse);
$("generate").addEventListener("click", generate);
$("interrupt").addEventListener("click", () => api("/sdapi/v1/interrupt", {}).catch((e) => status(e.message, true)));
setMode("txt2img");
loadLists();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view web_ui_html() { return kPage; }

}  // namespace difu::server
