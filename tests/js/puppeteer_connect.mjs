// Attach puppeteer-core to a browserfleet session and read a page of the local test site.
//
//   node tests/js/puppeteer_connect.mjs CONNECT_URL PAGE_URL
//
// Connects with `puppeteer.connect({browserWSEndpoint: CONNECT_URL})` (no browser download:
// puppeteer-core never fetches one), opens a new page, loads PAGE_URL, reads the DOM, disconnects
// and prints one JSON object on stdout: {version, userAgent, title, url, skus, apiText, pagesBefore}.
// Any failure prints {error} on stdout and exits 1.
import { withSession } from "./session_client.mjs";

const [connectUrl, pageUrl] = process.argv.slice(2);
if (!connectUrl || !pageUrl) {
  console.error("usage: puppeteer_connect.mjs CONNECT_URL PAGE_URL");
  process.exit(2);
}

withSession(connectUrl, async (browser) => {
  const version = await browser.version();
  const userAgent = await browser.userAgent();
  const pagesBefore = (await browser.pages()).length;
  const page = await browser.newPage();
  await page.goto(pageUrl, { waitUntil: "load", timeout: 30000 });
  await page.waitForSelector("#from-api .api-item", { timeout: 15000 });
  const skus = await page.$$eval("li.product", (els) => els.map((e) => e.dataset.sku));
  const apiText = await page.$eval("#from-api", (el) => el.innerText);
  const result = { version, userAgent, title: await page.title(), url: page.url(), skus, apiText, pagesBefore };
  await page.close();
  return result;
});
