/**
 * Perturbations of a mail that should not change what it is: a reader still sees the same message. Each takes the
 * text and a seeded random source, so a rerun perturbs the same mails the same way.
 */

/** mulberry32 seeded from a string: small, fast, and the same sequence on every machine. */
export function seededRandom(seed) {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
  let a = (h << 13) | (h >>> 19);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const URL_HOSTS = ['example.com', 'example.org', 'example.net'];

/** Replace a share of the letters by random letters (typos, OCR noise, obfuscation). */
function characterNoise(text, random, rate) {
  return text.replace(/[a-z]/gi, (c) => (random() < rate ? LETTERS[Math.floor(random() * 26)] : c));
}

/** Insert links at word boundaries, as a forwarded or signed mail would carry. */
function insertUrls(text, random, count) {
  const words = text.split(' ');
  for (let i = 0; i < count; i++) {
    const host = URL_HOSTS[Math.floor(random() * URL_HOSTS.length)];
    const url = `https://www.${host}/p/${Math.floor(random() * 1e6).toString(36)}`;
    words.splice(Math.floor(random() * (words.length + 1)), 0, url);
  }
  return words.join(' ');
}

/** The perturbations, in the order the report shows them. */
export function perturbations(params) {
  const noise = params.noiseRate ?? 0.05;
  const urls = params.urlCount ?? 3;
  return [
    {
      id: 'char-noise',
      name: `character noise (${Math.round(noise * 100)}% of letters)`,
      apply: (t, r) => characterNoise(t, r, noise),
    },
    { id: 'upper-case', name: 'upper case', apply: (t) => t.toUpperCase() },
    { id: 'lower-case', name: 'lower case', apply: (t) => t.toLowerCase() },
    { id: 'inserted-urls', name: `${urls} inserted URLs`, apply: (t, r) => insertUrls(t, r, urls) },
  ];
}
