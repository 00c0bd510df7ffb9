// Attach puppeteer-core to a browserfleet session and click download links on a test-site page.
//
//   node tests/js/puppeteer_download.mjs CONNECT_URL PAGE_URL SELECTOR [SELECTOR…]
//
// Connects with `puppeteer.connect({browserWSEndpoint: CONNECT_URL})`, opens PAGE_URL in a new
// page, clicks each SELECTOR (links that download a file), waits for the browser's
// `Browser.downloadProgress` "completed" event of each (through a CDP session of its own, with
// `eventsEnabled`: the session's node decides where the files land), disconnects and prints
// {completed: [suggestedFilename…]} on stdout. Any failure prints {error} and exits 1.
import { withSession } from "./session_client.mjs";

const [connectUrl, pageUrl, ...selectors] = process.argv.slice(2);
if (!connectUrl || !pageUrl || selectors.length === 0) {
  console.error("usage: puppeteer_download.mjs CONNECT_URL PAGE_URL SELECTOR...");
  process.exit(2);
}

withSession(connectUrl, async (browser) => {
  const cdp = await browser.target().createCDPSession();
  const names = new Map();
  const completed = [];
  let notify = () => {};
  cdp.on("Browser.downloadWillBegin", (e) => names.set(e.guid, e.suggestedFilename));
  cdp.on("Browser.downloadProgress", (e) => {
    if (e.state === "completed" || e.state === "canceled") {
      completed.push(e.state === "completed" ? names.get(e.guid) : `canceled:${names.get(e.guid)}`);
      notify();
    }
  });
  // the path is a placeholder: the session's CDP proxy points it at the session's folder
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: "/nonexistent", eventsEnabled: true });
  const page = await browser.newPage();
  await page.goto(pageUrl, { waitUntil: "load", timeout: 30000 });
  for (const selector of selectors) {
    const done = new Promise((resolve) => (notify = resolve));
    await page.click(selector);
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`no download for ${selector}`)), 20000))]);
  }
  await page.close();
  return { completed };
});
