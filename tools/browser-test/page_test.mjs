// tools/browser-test/page_test.mjs — drives difu's web page (GET /) in headless Debian Chromium as a
// user would: type a prompt, pick steps and size, press Generate, wait for the picture; a longer run
// whose live previews must show while it samples; then img2img: upload a picture, paint a mask stroke,
// inpaint, see the result in the gallery, reuse the first picture's parameters; screenshot.
// Usage: node page_test.mjs http://127.0.0.1:PORT/ SCREENSHOT.png INIT.png     (exit 0 = all of it worked)
import { chromium } from "playwright-core";

const [url, shot, initImage] = process.argv.slice(2);
const idle = { timeout: 120000 };
const finished = () => !document.getElementById("generate").disabled;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  // The server may still be loading its model: retry for a while.
  for (let attempt = 0; ; ++attempt) {
    try { await page.goto(url, { timeout: 5000 }); break; }
    catch (e) { if (attempt >= 40) throw e; await new Promise(r => setTimeout(r, 500)); }
  }
  await page.waitForFunction(() => document.querySelectorAll("#sampler option").length > 0, null, { timeout: 15000 });
  await page.fill("#prompt", "an astronaut riding a horse");
  await page.fill("#steps", "3");
  await page.fill("#width", "128");
  await page.fill("#height", "128");
  await page.fill("#seed", "42");
  await page.click("#generate");
  await page.waitForSelector("#image:not([hidden])", { timeout: 60000 });
  const size = await page.evaluate(() => { const i = document.getElementById("image"); return [i.naturalWidth, i.naturalHeight]; });
  const info = await page.textContent("#info");
  if (size[0] !== 128 || size[1] !== 128) throw new Error(`image is ${size[0]}x${size[1]}, expected 128x128`);
  if (!info.includes("Seed: 42")) throw new Error(`infotext shown does not say Seed: 42: ${info}`);
  console.log(`page test: image ${size[0]}x${size[1]} shown, infotext: ${info.split("\n").pop()}`);

  // Live previews: every step (the option webui clients set), over a run long enough to be watched.
  await page.evaluate(() => fetch("/sdapi/v1/options", { method: "POST", headers: { "Content-Type": "application/json" },
                                                         body: JSON.stringify({ show_progress_every_n_steps: 1 }) }));
  await page.fill("#steps", "60");  // sd1-tiny at 256x256: ~0.1 s a step, polled every 0.25 s
  await page.fill("#width", "256");
  await page.fill("#height", "256");
  await page.click("#generate");
  await page.waitForFunction(finished, null, idle);  // the page counts the previews it showed meanwhile
  const previews = await page.evaluate(() => previews);
  if (previews < 1) throw new Error("no live preview was shown while sampling");
  console.log(`page test: ${previews} live previews shown while sampling`);

  // img2img with a painted mask.
  await page.click("#tab-img2img");
  await page.setInputFiles("#initfile", initImage);
  await page.waitForSelector("#canvaswrap:not([hidden])", { timeout: 10000 });
  const box = await page.locator("#maskcanvas").boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 8 });
  await page.mouse.up();
  await page.fill("#steps", "3");
  await page.click("#generate");
  await page.waitForFunction(() => document.querySelectorAll("#gallery img").length === 3, null, idle);
  await page.waitForFunction(finished, null, idle);
  const inpainted = await page.textContent("#info");
  for (const field of ["Denoising strength: 0.75", "Mask blur: 4"])
    if (!inpainted.includes(field)) throw new Error(`inpainting infotext lacks "${field}": ${inpainted}`);
  const isize = await page.evaluate(() => { const i = document.getElementById("image"); return [i.naturalWidth, i.naturalHeight]; });
  if (isize[0] !== 128 || isize[1] !== 128) throw new Error(`inpainted image is ${isize[0]}x${isize[1]}, expected 128x128`);
  await page.screenshot({ path: shot, fullPage: true });
  // Reuse the first picture's parameters: txt2img, its seed and steps come back.
  await page.click("#gallery img >> nth=0");
  await page.click("#reuse");
  const reused = await page.evaluate(() => [document.getElementById("seed").value, document.getElementById("steps").value,
                                            document.getElementById("img2img-panel").hidden]);
  if (reused[0] !== "42" || reused[1] !== "3" || reused[2] !== true) throw new Error(`reuse gave seed, steps, img2img hidden = ${reused}`);
  console.log(`page test: inpainted ${isize[0]}x${isize[1]}; ${inpainted.split("\n").pop()}; parameters reused`);
} finally {
  await browser.close();
}
