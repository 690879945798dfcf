/*
 * thrivecart-utm.js: hands a visitor's UTM parameters and ad click ids to ThriveCart as
 * passthrough parameters, so each order's webhook says where the buyer came from.
 * Install before </body> (docs/utm-tracking.md); no dependencies, no network requests:
 *   <script src="/thrivecart-utm.js" data-checkout-hosts="pay.example.com"></script>
 */
(() => {
  'use strict';

  // The keys carried; the pipeline maps exactly these to columns. Add a key here to carry it.
  const KEYS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term', 'fbclid', 'gclid'];
  const STORAGE_KEY = 'thrivecart_utm';
  const MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000; // 30 days from the tagged landing
  const EMBED = '.tc-v2-embeddable-target';
  const EMBED_ATTRIBUTE = 'data-thrivecart-querystring';
  const LINK = 'a[href]';

  // currentScript is set only while this file first runs; an injected copy finds its tag.
  const tag = document.currentScript || document.querySelector('script[data-checkout-hosts]');
  const extraHosts = ((tag && tag.getAttribute('data-checkout-hosts')) || '')
    .toLowerCase().split(/\s+/).filter(Boolean);

  // The known keys that `get` has a non-empty string for.
  const pick = (get) => KEYS.reduce((values, key) => {
    const value = get(key);
    if (typeof value === 'string' && value !== '') values[key] = value;
    return values;
  }, {});

  // Storage can be missing or throw (private mode, blocked site data): then it is skipped and
  // only the current URL counts. Nothing here may stop the page's own scripts.
  const readStored = () => {
    try {
      const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY));
      if (saved && saved.values && saved.expires > Date.now()) return pick((key) => saved.values[key]);
      window.localStorage.removeItem(STORAGE_KEY); // expired (or nothing there)
    } catch (error) { /* unavailable or unreadable: nothing stored */ }
    return {};
  };
  const store = (values) => {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ values, expires: Date.now() + MAX_AGE_MS }));
    } catch (error) { /* unavailable or full: this page still carries its own values */ }
  };

  // A URL with any key replaces the whole stored set (keys of an older ad must not mix with
  // this one's); a page without keys, say /pricing after /blog?utm_source=x, uses the stored set.
  const pageQuery = new URLSearchParams(window.location.search);
  const fromUrl = pick((key) => pageQuery.get(key));
  const tagged = Object.keys(fromUrl).length > 0;
  if (tagged) store(fromUrl);
  const values = tagged ? fromUrl : readStored();
  if (Object.keys(values).length === 0) return; // nothing to carry: leave the page alone

  // The query string with passthrough[KEY]=VALUE added for each value, or null when every
  // key is there already. A key already present wins (the seller set it on purpose), and
  // never adding one twice is what makes decorating the same element again harmless.
  const withPassthrough = (query) => {
    const params = new URLSearchParams(query);
    let added = false;
    Object.keys(values).forEach((key) => {
      const name = `passthrough[${key}]`;
      if (!params.has(name)) {
        params.append(name, values[key]);
        added = true;
      }
    });
    // URLSearchParams encodes everything; the brackets are put back for the readable
    // passthrough[utm_source] of ThriveCart's examples (decoded, both spell the same name).
    return added ? params.toString().replace(/%5B/gi, '[').replace(/%5D/gi, ']') : null;
  };

  const isCheckout = (url) => {
    const host = url.hostname.toLowerCase();
    return (url.protocol === 'https:' || url.protocol === 'http:')
      && (host.endsWith('.thrivecart.com') || extraHosts.includes(host));
  };

  const decorateLink = (link) => {
    if (!(link instanceof HTMLAnchorElement)) return; // e.g. an SVG <a>
    let url;
    try { url = new URL(link.href); } catch (error) { return; } // not a URL: not a checkout
    if (!isCheckout(url)) return;
    const query = withPassthrough(url.search);
    if (query === null) return; // untouched: the link keeps its own spelling
    url.search = query; // the other parameters and the #hash stay as they were
    link.href = url.toString();
  };

  const decorateEmbed = (embed) => {
    const query = withPassthrough(embed.getAttribute(EMBED_ATTRIBUTE) || '');
    if (query !== null) embed.setAttribute(EMBED_ATTRIBUTE, query);
  };

  const decorateWithin = (root) => {
    [root, ...root.querySelectorAll(`${LINK}, ${EMBED}`)].forEach((element) => {
      if (element.matches(LINK)) decorateLink(element);
      if (element.matches(EMBED)) decorateEmbed(element);
    });
  };

  decorateWithin(document.documentElement);

  // Buttons and carts that page builders or popups add later. Attributes are not watched,
  // so the script's own writes never call it again.
  new MutationObserver((mutations) => {
    mutations.forEach((mutation) => mutation.addedNodes.forEach((node) => {
      if (node.nodeType === Node.ELEMENT_NODE) decorateWithin(node);
    }));
  }).observe(document.documentElement, { childList: true, subtree: true });

  // Last chance: a link whose href was changed after it was added (a monthly/yearly toggle,
  // say) is decorated when clicked, in the capture phase, before the browser follows it.
  ['click', 'auxclick'].forEach((type) => document.addEventListener(type, (event) => {
    const link = event.target instanceof Element ? event.target.closest(LINK) : null;
    if (link) decorateLink(link);
  }, true));
})();
