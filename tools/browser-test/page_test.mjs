// tools/browser-test/page_test.mjs — drives difu's web page (GET /) in headless Debian Chromium as a
// user would: type a prompt, pick steps and size, press Generate, wait for the picture, screenshot.
// Usage: node page_test.mjs http://127.0.0.1:PORT/ SCREENSHOT.png     (exit 0 = the image appeared)
import { chromium } from "playwright-core";

const [url, shot] = process.argv.slice(2);
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
  await page.screenshot({ path: shot, fullPage: true });
  if (size[0] !== 128 || size[1] !== 128) throw new Error(`image is ${size[0]}x${size[1]}, expected 128x128`);
  if (!info.includes("Seed: 42")) throw new Error(`infotext shown does not say Seed: 42: ${info}`);
  console.log(`page test: image ${size[0]}x${size[1]} shown, infotext: ${info.split("\n").pop()}`);
} finally {
  await browser.close();
}
