// Opens an HTML report in headless Chromium (Debian's, not a downloaded build), takes a
// screenshot and reports what a reader would notice: console errors, uncaught exceptions,
// images that did not load, and any request leaving the file (a report must be self-contained).
//
// usage: node browser.mjs REPORT.html SCREENSHOT.png [WIDTH]
// stdout: {"title", "images", "broken_images", "console_errors", "page_errors", "external_requests",
//          "headings", "verdicts", "needs", "text"}  (verdicts: verdict blocks; needs: input
//          messages; text: what a reader sees, for checking that every finding is there)
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [report, screenshot, width = "1200"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.D1NB_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const found = { console_errors: [], page_errors: [], external_requests: [] };
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: 900 } });
  page.on("console", (msg) => {
    if (msg.type() === "error") found.console_errors.push(msg.text());
  });
  page.on("pageerror", (err) => found.page_errors.push(String(err)));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:")) return route.continue();
    found.external_requests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(report).href, { waitUntil: "load" });
  const seen = await page.evaluate(() => ({
    title: document.title,
    images: document.images.length,
    broken_images: [...document.images]
      .filter((img) => !img.complete || img.naturalWidth === 0)
      .map((img) => img.src.slice(0, 80)),
    headings: [...document.querySelectorAll("h1, h2")].map((h) => h.textContent.replace("¶", "").trim()),
    verdicts: document.querySelectorAll(".d1nb-verdict").length,
    needs: document.querySelectorAll(".d1nb-needs").length,
    text: document.body.innerText,
  }));
  await page.screenshot({ path: screenshot, fullPage: false });
  Object.assign(found, seen);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(found));
