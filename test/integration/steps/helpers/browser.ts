import type { Browser, Page } from 'puppeteer-core';
import { launch } from 'puppeteer-core';
import { CHROMIUM, CHROMIUM_SWITCHES } from './chromium.js';

/**
 * Headless Chromium driven over the DevTools protocol, for pages that need more than a URL: state in the page's
 * storage before it loads (the Temporal UI keeps its list columns in localStorage), or waiting for text the page
 * fetches. Same switches as `chromium()`: nothing reaches the network on its own.
 */
export async function startBrowser(): Promise<Browser> {
  return launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_SWITCHES, '--disable-quic'],
    defaultViewport: { width: 1400, height: 900 },
    protocolTimeout: 90_000,
  });
}

/** A new page whose origin's localStorage holds `storage` before any of the page's own scripts run. */
export async function pageWithStorage(browser: Browser, storage: Record<string, unknown>): Promise<Page> {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(
    (entries: [string, string][]) => {
      // Runs in the page, where `localStorage` is a global (this file is compiled without the DOM's types).
      const storage = (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } })
        .localStorage;
      for (const [key, value] of entries) storage.setItem(key, value);
    },
    Object.entries(storage).map(([k, v]) => [k, JSON.stringify(v)] as [string, string]),
  );
  return page;
}

/** The page's whole markup contains `text` (evaluated in the page). */
export function pageHas(text: string): boolean {
  const doc = (globalThis as unknown as { document: { documentElement: { outerHTML: string } } }).document;
  return doc.documentElement.outerHTML.includes(text);
}
