// Shared helpers of the browser tests and the frame benchmark: start
// Debian's chromium through playwright-core, start weft and wait for it to
// be ready, and clean up every process also when a test fails.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../../..');
export const OUT = path.join(HERE, 'out');
fs.mkdirSync(OUT, { recursive: true });

export const CHROMIUM = process.env.WEFT_CHROMIUM || '/usr/bin/chromium';

const children = new Set();
const tempDirs = [];
/** A temp dir removed when the test process exits. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
function killAll() {
  for (const d of tempDirs.splice(0)) { try { fs.rmSync(d, { recursive: true, force: true }); } catch (_) { /* best effort */ } }
  for (const c of children) { try { process.kill(-c.pid, 'SIGKILL'); } catch (_) { try { c.kill('SIGKILL'); } catch (_) { /* gone */ } } }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

/** Spawns a process in its own process group and remembers it for cleanup. Output goes to a log file. */
export function start(cmd, args, opts = {}) {
  const log = path.join(OUT, `${opts.name || path.basename(cmd)}.log`);
  const fd = fs.openSync(log, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...(opts.env || {}) }, cwd: opts.cwd });
  fs.closeSync(fd);
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.log = log;
  child.stop = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch (_) { /* gone */ } children.delete(child); };
  return child;
}

/** Polls `fn` until it returns a truthy value or `ms` pass; throws `what` with the last error. */
export async function waitFor(what, fn, ms = 30000, every = 200) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export function weftBin() {
  const bin = process.env.WEFT_BIN ? path.resolve(process.env.WEFT_BIN) : path.join(REPO, 'target/release/weft');
  if (!fs.existsSync(bin)) throw new Error(`weft binary not found at ${bin}: build it (cargo build --release -p weft) or set WEFT_BIN`);
  return bin;
}

/**
 * Starts `weft ARGS --no-browser --listen 127.0.0.1:0` (`bin`: another weft
 * binary than WEFT_BIN), reads the URL it prints, waits for /api/status
 * state "ready" and returns {proc, url, base}.
 */
export async function startWeft(args, name, readyMs = 120000, bin = weftBin()) {
  const proc = start(bin, [...args, '--no-browser', '--listen', '127.0.0.1:0'], { name });
  const url = await waitFor(`weft (${name}) to print its URL (log: ${proc.log})`, () => {
    if (proc.exitCode !== null) throw new Error(`weft exited with ${proc.exitCode}: ${fs.readFileSync(proc.log, 'utf8').slice(-2000)}`);
    const m = fs.readFileSync(proc.log, 'utf8').match(/https?:\/\/[^\s]+/);
    return m && m[0];
  }, 60000);
  const base = new URL(url).origin;
  await waitFor(`weft (${name}) /api/status to read ready`, async () => {
    if (proc.exitCode !== null) throw new Error(`weft exited with ${proc.exitCode}: ${fs.readFileSync(proc.log, 'utf8').slice(-2000)}`);
    const s = await (await fetch(`${base}/api/status`)).json();
    if (s.state === 'error') throw new Error(`weft reports state error: ${s.error}`);
    return s.state === 'ready';
  }, readyMs);
  return { proc, url, base };
}

/** Launches Debian's chromium headless with SwiftShader WebGL2 and a fresh profile. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-e2e-chromium-'));
  // A persistent context is how playwright takes a fresh --user-data-dir.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
  // WEFT_E2E_ASSETS=dir: serve the UI files from disk instead of the
  // binary's embedded copy (to try a front change without a rebuild).
  if (process.env.WEFT_E2E_ASSETS) {
    const dir = process.env.WEFT_E2E_ASSETS;
    const types = { js: 'text/javascript', css: 'text/css' };
    await browser.route(/\/(js\/[^?#]+\.js|style\.css)([?#].*)?$/, (route) => {
      const rel = new URL(route.request().url()).pathname.slice(1);
      route.fulfill({ body: fs.readFileSync(path.join(dir, rel)), contentType: types[rel.split('.').pop()] });
    });
  }
  const close = browser.close.bind(browser);
  browser.close = async () => { try { await close(); } finally { fs.rmSync(profile, { recursive: true, force: true }); } };
  return browser;
}

/** A page that records console errors and page errors (tests assert there are none). */
export async function openPage(browser, url, viewport = { width: 1600, height: 900 }) {
  const page = await browser.newPage();
  await page.setViewportSize(viewport);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()}`); });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60000 });
  return page;
}

/** Counts non-transparent pixels of a canvas (by id) in the page; WebGL canvases keep their buffer. */
export async function canvasInk(page, id) {
  return page.evaluate((cid) => {
    const c = document.getElementById(cid);
    const tmp = document.createElement('canvas');
    tmp.width = c.width; tmp.height = c.height;
    const ctx = tmp.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, tmp.width, tmp.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  }, id);
}

/** Go toolchain for building test programs: fails with the install hint when missing. */
export function goBinary() {
  const candidates = [];
  try { candidates.push(execFileSync('bash', [path.join(REPO, 'scripts/go-toolchain.sh'), '1.26'], { encoding: 'utf8' }).trim()); } catch (_) { /* try others */ }
  candidates.push('/usr/local/go/bin/go');
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  throw new Error('no Go toolchain found: run scripts/install-go-toolchains.sh');
}

/** Builds the Go package `pkg` of module directory `dir` into a temp dir. */
export function buildGo(dir, outName, pkg = '.') {
  const out = path.join(tempDir('weft-e2e-go-'), outName);
  execFileSync(goBinary(), ['build', '-o', out, pkg], { cwd: dir, env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, stdio: 'inherit' });
  return out;
}
