// What the scripts here share: attach puppeteer-core to a browserfleet session, run the script's
// work on the browser, disconnect (never close: the session lives on), and print one JSON line on
// stdout — the work's result, or {error} with exit code 1 (tests/support/puppeteer.py reads it).
import puppeteer from "puppeteer-core";

export function withSession(connectUrl, work) {
  const main = async () => {
    const browser = await puppeteer.connect({ browserWSEndpoint: connectUrl, protocolTimeout: 30000 });
    try {
      return await work(browser);
    } finally {
      await browser.disconnect();
    }
  };
  main().then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + "\n");
    },
    (error) => {
      process.stdout.write(JSON.stringify({ error: String(error && error.stack ? error.stack : error) }) + "\n");
      process.exit(1);
    },
  );
}
