// Drives an exported twicing site in Debian's Chromium, headless, through playwright-core, and writes what the
// page computed as JSON, for the Java test (WebExportBrowserTest) to compare with ONNX Runtime for Java.
// Usage: node test/browser.mjs URL OUT.json [--steps N] [--prompt TEXT] [--tokens N] [--screenshot FILE.png]
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [url, outFile, ...rest] = process.argv.slice(2);
if (!url || !outFile) {
  console.error('usage: node test/browser.mjs URL OUT.json [--steps N] [--prompt TEXT] [--tokens N] [--screenshot F]');
  process.exit(2);
}
const opt = {};
for (let i = 0; i < rest.length; i += 2) {
  opt[rest[i].replace(/^--/, '')] = rest[i + 1];
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Without the background-networking flags Chromium keeps dialling hosts this closed network refuses.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const result = { url };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const logs = [];
  page.on('console', (m) => logs.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => logs.push('pageerror: ' + e.message));
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.twicing && (window.twicing.ready || window.twicing.error),
    null, { timeout: 120000 });
  result.navigationToReadyMs = Date.now() - t0;
  const state = await page.evaluate(() => ({ ready: window.twicing.ready, error: window.twicing.error || null,
    capabilities: window.twicing.capabilities, loadMs: window.twicing.loadMs, kind: window.twicing.manifest
      && window.twicing.manifest.kind, capabilityText: document.getElementById('capabilities').textContent }));
  Object.assign(result, state);
  if (state.ready && state.kind === 'image') {
    result.logits = await page.evaluate(async () => (await window.twicing.predictSample(0)).logits);
    const steps = parseInt(opt.steps || '5', 10);
    result.losses = await page.evaluate(async (n) => window.twicing.fineTune(n), steps);
    result.logitsAfter = await page.evaluate(async () => (await window.twicing.predictSample(0)).logits);
  } else if (state.ready && state.kind === 'text') {
    const tokens = parseInt(opt.tokens || '20', 10);
    result.generatedBytes = await page.evaluate(async ([p, n]) => window.twicing.generateBytes(p, n, 0, 0),
      [opt.prompt || 'The ', tokens]);
    // The same through the page's controls, as a user would: type the prompt, click Generate.
    await page.fill('#prompt', opt.prompt || 'The ');
    await page.fill('#gen-tokens', String(tokens));
    await page.fill('#gen-temperature', '0');
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('generated').textContent.length > 0, null,
      { timeout: 120000 });
    result.generatedText = await page.evaluate(() => document.getElementById('generated').textContent);
  }
  if (opt.screenshot) {
    await page.screenshot({ path: opt.screenshot, fullPage: true });
  }
  result.externalRequests = external;
  result.console = logs;
} finally {
  await browser.close();
}
writeFileSync(outFile, JSON.stringify(result, null, 2));
console.log('wrote ' + outFile);
