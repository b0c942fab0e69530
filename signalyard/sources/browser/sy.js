/*! Signalyard browser script (sy.js): first-party _fbp/_fbc, click ids, consent-gated events
 * sent to Signalyard's /collect, deduplicated with the Meta Pixel by a shared event id.
 * Plain ES2017, no dependencies. Documentation: docs/browser.md. */
(function (w, d) {
  'use strict';

  var existing = w.signalyard;
  if (existing && existing.loaded) return; // included twice

  var VERSION = '1';
  var DAY_MS = 864e5;
  var TTL_DAYS = 90;
  var TTL_MS = TTL_DAYS * DAY_MS;
  var CLICK_PARAMS = ['fbclid', 'gclid', 'gbraid', 'wbraid', 'ttclid', 'msclkid', 'ScCid', 'epik',
    'rdt_cid', 'li_fat_id'];
  var MAX_CLICK_ID = 500; // longer values are ignored, as Meta's parameter builder does
  var CLICKS_KEY = '_sy_clicks';
  var TOKEN_COOKIE = '_sy_ct'; // this browser's consent token (docs/browser.md)
  var TOKEN_RE = /^[A-Za-z0-9_-]{22,64}$/;
  var MAX_EVENTS = 50; // per request
  var MAX_BODY = 60000; // bytes per request (the endpoint takes up to 64 KB)
  var MAX_HELD = 200; // events held in memory while consent is pending
  var STANDARD = ['AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'CompleteRegistration',
    'Contact', 'CustomizeProduct', 'Donate', 'FindLocation', 'InitiateCheckout', 'Lead',
    'PageView', 'Purchase', 'Schedule', 'Search', 'StartTrial', 'SubmitApplication', 'Subscribe',
    'ViewContent'];

  var api = existing && typeof existing === 'object' ? existing : {};
  var stubQueue = Array.isArray(api.q) ? api.q : [];

  // --- configuration, from the <script> element ----------------------------------------------
  var script = d.currentScript ||
    d.querySelector('script[data-dataset][src*="sy.js"]') ||
    d.querySelector('script[src*="/sy.js"]');
  function attr(name) {
    return script ? script.getAttribute(name) : null;
  }
  var dataset = attr('data-dataset') || api.dataset || '';
  var base = null;
  try {
    base = new URL(attr('data-endpoint') || './', script ? script.src : w.location.href);
  } catch (e) { /* no usable base: events are not sent */ }
  var tcfPurposes = (attr('data-tcf-purposes') || '1,3,4,7').split(/[\s,]+/)
    .filter(Boolean).map(Number);
  function warn(message) {
    if (w.console && w.console.warn) w.console.warn('signalyard: ' + message);
  }
  if (!dataset) warn('no data-dataset on the script tag; events are not sent');
  function url(path) {
    return new URL('collect/' + encodeURIComponent(dataset) + path, base).href;
  }

  // --- small helpers -------------------------------------------------------------------------
  var cryptoObj = w.crypto || w.msCrypto;
  function randomUint32() {
    if (cryptoObj && cryptoObj.getRandomValues) {
      return cryptoObj.getRandomValues(new Uint32Array(1))[0];
    }
    return Math.floor(Math.random() * 4294967296);
  }
  function uuid() {
    if (cryptoObj && typeof cryptoObj.randomUUID === 'function') {
      try { return cryptoObj.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    var b = new Uint8Array(16);
    for (var i = 0; i < 16; i += 4) {
      var r = randomUint32();
      b[i] = r & 255; b[i + 1] = (r >>> 8) & 255; b[i + 2] = (r >>> 16) & 255; b[i + 3] = r >>> 24;
    }
    b[6] = (b[6] & 15) | 64; // version 4
    b[8] = (b[8] & 63) | 128; // variant 10
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); })
      .join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) +
      '-' + h.slice(20);
  }

  // --- cookies -------------------------------------------------------------------------------
  function getCookie(name) {
    var parts = d.cookie ? d.cookie.split(';') : [];
    for (var i = 0; i < parts.length; i++) {
      var p = parts[i].trim();
      var eq = p.indexOf('=');
      if (eq > 0 && p.slice(0, eq) === name) {
        try { return decodeURIComponent(p.slice(eq + 1)); } catch (e) { return p.slice(eq + 1); }
      }
    }
    return null;
  }
  function writeCookie(name, value, domain, maxAge) {
    d.cookie = name + '=' + encodeURIComponent(value) + '; path=/' +
      (domain ? '; domain=' + domain : '') + '; max-age=' + maxAge + '; SameSite=Lax' +
      (w.location.protocol === 'https:' ? '; Secure' : '');
  }
  var topDomain = null;
  // The top-most domain that accepts a cookie, probed upward from the registrable domain as
  // Meta's pixel does (the browser refuses public suffixes such as com or co.uk), and its
  // subdomain index: labels - 1 (example.com = 1, example.co.uk = 2). IP hosts and single-label
  // hosts get a host-only cookie and index 0.
  function cookieDomain() {
    if (topDomain) return topDomain;
    var host = w.location.hostname;
    var labels = host.split('.');
    if (labels.length < 2 || /^[\d.]+$/.test(host) || host.indexOf(':') >= 0 ||
        host.charAt(0) === '[') {
      topDomain = { domain: null, index: 0 };
      return topDomain;
    }
    for (var n = 2; n <= labels.length; n++) {
      var candidate = labels.slice(-n).join('.');
      writeCookie('_sy_probe', '1', candidate, 10);
      if (getCookie('_sy_probe') === '1') {
        writeCookie('_sy_probe', '', candidate, 0);
        topDomain = { domain: candidate, index: n - 1 };
        return topDomain;
      }
    }
    topDomain = { domain: null, index: labels.length - 1 };
    return topDomain;
  }
  // The consent token: this browser's key to its own events at the gateway (the fbp is no
  // secret, so it proves nothing). Made here from 144 random bits, or given by /collect.
  var tokenValue = null; // when cookies cannot be written
  function currentToken() {
    var c = getCookie(TOKEN_COOKIE);
    if (c && TOKEN_RE.test(c)) tokenValue = c;
    return tokenValue;
  }
  function keepToken(value) {
    tokenValue = value;
    writeCookie(TOKEN_COOKIE, value, cookieDomain().domain, TTL_DAYS * 86400);
  }
  function newToken() {
    if (!cryptoObj || !cryptoObj.getRandomValues || typeof w.btoa !== 'function') return null;
    var b = cryptoObj.getRandomValues(new Uint8Array(18));
    return w.btoa(String.fromCharCode.apply(null, Array.prototype.slice.call(b)))
      .replace(/\+/g, '-').replace(/\//g, '_');
  }
  function fbParts(value) {
    var p = value ? String(value).split('.') : [];
    return p.length >= 4 && p[0] === 'fb' && /^\d+$/.test(p[1]) && /^\d+$/.test(p[2]) && p[3]
      ? p : null;
  }

  // --- click ids from the landing URL (kept in memory until consent allows storing them) ------
  var landedAt = Date.now();
  var landing = {};
  (function () {
    var params;
    try { params = new URL(w.location.href).searchParams; } catch (e) { return; }
    CLICK_PARAMS.forEach(function (k) {
      var v = params.get(k);
      if (v && v.length <= MAX_CLICK_ID) landing[k] = { id: v, at: landedAt };
    });
    if (!landing.fbclid && d.referrer) { // as Meta's parameter builder does
      try {
        var r = new URL(d.referrer).searchParams.get('fbclid');
        if (r && r.length <= MAX_CLICK_ID) landing.fbclid = { id: r, at: landedAt };
      } catch (e) { /* not a URL */ }
    }
  })();
  var memoryClicks = null; // when localStorage is unavailable
  function readClicks() {
    var now = Date.now();
    var raw = memoryClicks;
    if (!raw) {
      try { raw = JSON.parse(w.localStorage.getItem(CLICKS_KEY) || '{}'); } catch (e) { raw = {}; }
    }
    var out = {};
    CLICK_PARAMS.forEach(function (k) {
      var c = raw && raw[k];
      if (c && typeof c.id === 'string' && typeof c.at === 'number' && c.at + TTL_MS > now) {
        out[k] = { id: c.id, at: c.at };
      }
    });
    return out;
  }
  function storeClicks() {
    var clicks = readClicks();
    Object.keys(landing).forEach(function (k) {
      if (!clicks[k] || clicks[k].id !== landing[k].id) clicks[k] = landing[k];
    });
    try {
      if (Object.keys(clicks).length) w.localStorage.setItem(CLICKS_KEY, JSON.stringify(clicks));
      else w.localStorage.removeItem(CLICKS_KEY);
      memoryClicks = null;
    } catch (e) {
      memoryClicks = clicks;
    }
  }

  // Writes _fbp (when missing), _fbc (for a new fbclid), the consent token and the click
  // ledger; renews the cookies' 90 days. Runs only once consent allows it.
  var stored = false;
  function persist() {
    if (stored) return;
    stored = true;
    var dom = cookieDomain();
    var maxAge = TTL_DAYS * 86400;
    var fbp = getCookie('_fbp');
    if (!fbParts(fbp)) fbp = 'fb.' + dom.index + '.' + Date.now() + '.' + (randomUint32() >>> 1);
    writeCookie('_fbp', fbp, dom.domain, maxAge);
    var fbc = getCookie('_fbc');
    var click = landing.fbclid;
    var parts = fbParts(fbc);
    if (click && !(parts && (parts[3] === click.id || parts.slice(3).join('.') === click.id))) {
      fbc = 'fb.' + dom.index + '.' + click.at + '.' + click.id;
      parts = fbParts(fbc);
    }
    if (parts) writeCookie('_fbc', fbc, dom.domain, maxAge);
    var token = currentToken() || newToken();
    if (token) keepToken(token);
    storeClicks();
  }

  // --- consent -------------------------------------------------------------------------------
  var required = attr('data-consent') === 'required';
  var consent = { state: required ? 'pending' : 'granted', source: 'none' };
  var decided = false; // an explicit decision (api, gcm update, tcf) was made
  var sentAny = false; // an event left this page
  var serverState = null; // the consent state the server last learned from this page
  var starting = true; // signals present at load are all read before acting on them

  function setConsent(state, source, decision) {
    if (decision) decided = true;
    consent = { state: state, source: source };
    if (state === 'denied') held.length = 0; // dropped, never sent
    if (starting) return;
    if (state !== 'pending' && sentAny && serverState !== asServerSees()) reportConsent();
    if (state === 'granted') {
      persist();
      schedule();
    }
  }
  // The state as the gateway records it: a page that asks nobody (source none) says unknown.
  function asServerSees() {
    return consent.source === 'none' ? 'unknown' : consent.state;
  }
  // Consent for what this browser sent, proved by its consent token (never by the fbp).
  function reportConsent() {
    var token = currentToken();
    serverState = asServerSees();
    if (!token || !dataset || !base) return;
    post(url('/consent'),
      JSON.stringify({ consent_token: token, state: consent.state, source: consent.source }), 0);
  }

  // Google Consent Mode: gtag('consent', 'default' | 'update', {...}) entries in dataLayer.
  var gcm = {};
  var gcmRegionDenied = false;
  function onDataLayer(entry) {
    if (!entry || entry[0] !== 'consent' || typeof entry[2] !== 'object' || !entry[2]) return;
    var kind = entry[1];
    var p = entry[2];
    if ((kind !== 'default' && kind !== 'update') ||
        (p.ad_storage === undefined && p.ad_user_data === undefined)) return;
    var denies = p.ad_storage === 'denied' || p.ad_user_data === 'denied';
    if (kind === 'default' && p.region) {
      // A regional default: the visitor's region is unknown here, so a denial holds events.
      if (denies) {
        gcmRegionDenied = true;
        if (!decided) setConsent('pending', 'gcm', false);
      }
      return;
    }
    if (p.ad_storage !== undefined) gcm.ad_storage = p.ad_storage;
    if (p.ad_user_data !== undefined) gcm.ad_user_data = p.ad_user_data;
    var granted = gcm.ad_storage === 'granted' && gcm.ad_user_data !== 'denied';
    if (kind === 'default') {
      if (!decided) setConsent(granted && !gcmRegionDenied ? 'granted' : 'pending', 'gcm', false);
    } else {
      var denied = gcm.ad_storage === 'denied' || gcm.ad_user_data === 'denied';
      setConsent(granted ? 'granted' : denied ? 'denied' : 'pending', 'gcm', true);
    }
  }
  function watchDataLayer() {
    var dl = w.dataLayer = w.dataLayer || [];
    if (!Array.isArray(dl)) return;
    for (var i = 0; i < dl.length; i++) onDataLayer(dl[i]);
    var inner = dl.push;
    function push() {
      for (var j = 0; j < arguments.length; j++) {
        try { onDataLayer(arguments[j]); } catch (e) { /* never break the page's dataLayer */ }
      }
      return inner.apply(dl, arguments);
    }
    try {
      // An accessor, so that gtag.js / GTM replacing dataLayer.push later stays observed.
      Object.defineProperty(dl, 'push', {
        configurable: true,
        get: function () { return push; },
        set: function (f) { inner = f; }
      });
    } catch (e) {
      dl.push = push;
    }
  }

  // IAB TCF v2: granted when GDPR does not apply, or when every purpose in data-tcf-purposes
  // (default 1, 3, 4, 7) has consent once the CMP has a decision (tcloaded/useractioncomplete).
  var tcfWatched = false;
  function onTcData(tc, ok) {
    if (!ok || !tc) return;
    if (tc.gdprApplies === false) {
      setConsent('granted', 'tcf', true);
      return;
    }
    if (tc.eventStatus !== 'tcloaded' && tc.eventStatus !== 'useractioncomplete') return;
    var consents = (tc.purpose && tc.purpose.consents) || {};
    var all = tcfPurposes.every(function (id) { return consents[id] === true; });
    setConsent(all ? 'granted' : 'denied', 'tcf', true);
  }
  function watchTcf() {
    if (tcfWatched || typeof w.__tcfapi !== 'function') return;
    tcfWatched = true;
    try { w.__tcfapi('addEventListener', 2, onTcData); } catch (e) { tcfWatched = false; }
  }

  // --- events --------------------------------------------------------------------------------
  var held = []; // tracked, not yet sent (consent pending, or waiting for the next flush)
  var timer = 0;
  function schedule() {
    if (!timer && held.length) timer = setTimeout(function () { timer = 0; flush(); }, 0);
  }

  // The page's own pixels get the same event id as the server copy, so that each platform
  // keeps one of the two: Meta's fbq (eventID) and, when the page has it, TikTok's ttq
  // (event_id; Signalyard sends Meta's event names to TikTok unchanged).
  function pixel(ev) {
    if (!ev.pixel) return;
    if (typeof w.fbq === 'function') {
      try {
        w.fbq(STANDARD.indexOf(ev.name) >= 0 ? 'track' : 'trackCustom', ev.name, ev.custom || {},
          { eventID: ev.id });
      } catch (e) { /* the page's pixel must not stop ours */ }
    }
    if (w.ttq && typeof w.ttq.track === 'function') {
      try {
        w.ttq.track(ev.name, ev.custom || {}, { event_id: ev.id });
      } catch (e) { /* idem */ }
    }
  }

  function wire(ev, fbp, fbc, clicks, ids) {
    var user = {};
    if (fbp) user.fbp = fbp;
    if (fbc) user.fbc = fbc;
    if (ev.user && typeof ev.user === 'object') {
      Object.keys(ev.user).forEach(function (k) { user[k] = ev.user[k]; });
    }
    var out = {
      event_name: ev.name,
      event_id: ev.id,
      event_time: ev.time,
      event_source_url: ev.url,
      user_data: user,
      consent: { state: consent.state, source: consent.source }
    };
    if (ev.referrer) out.referrer_url = ev.referrer;
    if (ev.custom && typeof ev.custom === 'object') out.custom_data = ev.custom;
    if (Object.keys(clicks).length) out.click_ids = clicks;
    if (ev.checkout) {
      // The checkout's token the page passed: the order webhook carries it too.
      var own = {};
      Object.keys(ids).forEach(function (k) { own[k] = ids[k]; });
      own.checkout = ev.checkout;
      ids = own;
    }
    if (Object.keys(ids).length) out.browser_ids = ids;
    return out;
  }

  // First-party cookies passed on when the page has them: TikTok's _ttp, Google's _ga (GA4's
  // client id), Snapchat's _scid, Reddit's _rdt_uuid, and Shopify's cart token (the order
  // webhook carries it: the browser's link to its order).
  var BROWSER_COOKIES = {
    ttp: '_ttp', ga: '_ga', scid: '_scid', rdt_uuid: '_rdt_uuid', cart: 'cart'
  };
  function browserIds() {
    var ids = {};
    Object.keys(BROWSER_COOKIES).forEach(function (k) {
      var v = getCookie(BROWSER_COOKIES[k]);
      if (v && v.length <= 256) ids[k] = v;
    });
    return ids;
  }
  // Click ids some tags keep in a cookie of their own (Pinterest's _epik, LinkedIn's
  // li_fat_id): taken when the landing URL gave none.
  var CLICK_COOKIES = { epik: '_epik', li_fat_id: 'li_fat_id' };
  function withCookieClicks(clicks) {
    Object.keys(CLICK_COOKIES).forEach(function (k) {
      var v = getCookie(CLICK_COOKIES[k]);
      if (!clicks[k] && v && v.length <= MAX_CLICK_ID) clicks[k] = { id: v, at: Date.now() };
    });
    return clicks;
  }

  function flush() {
    if (consent.state !== 'granted' || !held.length) return;
    persist();
    var batch = held.splice(0);
    var fbp = getCookie('_fbp');
    var fbc = fbParts(getCookie('_fbc')) ? getCookie('_fbc') : null;
    var clicks = withCookieClicks(readClicks());
    var ids = browserIds();
    var events = [];
    batch.forEach(function (ev) {
      pixel(ev);
      events.push(wire(ev, fbp, fbc, clicks, ids));
    });
    if (!dataset || !base) return;
    sentAny = true;
    serverState = asServerSees();
    var token = currentToken();
    var chunk = [];
    var size = 80; // {"events":[...],"consent_token":"..."}
    function send() {
      if (chunk.length) {
        var body = token ? { events: chunk, consent_token: token } : { events: chunk };
        post(url(''), JSON.stringify(body), 0, token ? null : adoptToken);
      }
      chunk = [];
      size = 80;
    }
    events.forEach(function (e) {
      var n = new Blob([JSON.stringify(e)]).size + 1;
      if (n > MAX_BODY) {
        warn('event ' + e.event_name + ' is larger than ' + MAX_BODY + ' bytes; not sent');
        return;
      }
      if (chunk.length >= MAX_EVENTS || size + n > MAX_BODY) send();
      chunk.push(e);
      size += n;
    });
    send();
  }

  // A request sent without a token (no crypto.getRandomValues) is given one by the gateway.
  function adoptToken(answer) {
    var t = answer && answer.consent_token;
    if (typeof t === 'string' && TOKEN_RE.test(t) && !currentToken()) keepToken(t);
  }

  // POST a text/plain body (no CORS preflight), credentials omitted. A network error, 429 or
  // 5xx is retried twice (after 1 and 5 seconds) while the page stays open. onAnswer, when
  // given, receives a successful answer's JSON.
  function post(target, body, attempt, onAnswer) {
    function retry() {
      if (attempt < 2) {
        setTimeout(function () { post(target, body, attempt + 1, onAnswer); }, [1e3, 5e3][attempt]);
      }
    }
    if (typeof w.fetch === 'function') {
      try {
        w.fetch(target, { method: 'POST', body: body, keepalive: true, credentials: 'omit' })
          .then(function (r) {
            if (r.status === 429 || r.status >= 500) retry();
            else if (onAnswer && r.ok) r.json().then(onAnswer, function () { /* not JSON */ });
          }, retry);
        return;
      } catch (e) { /* fall back to sendBeacon */ }
    }
    if (w.navigator.sendBeacon) {
      try {
        if (w.navigator.sendBeacon(target, new Blob([body], { type: 'text/plain;charset=UTF-8' }))) {
          return;
        }
      } catch (e) { /* retried below */ }
    }
    retry();
  }

  // --- public API ----------------------------------------------------------------------------
  api.track = function (name, customData, options) {
    var o = options && typeof options === 'object' ? options : {};
    if (typeof name !== 'string' || !name) {
      warn('track needs an event name');
      return null;
    }
    var id = o.event_id ? String(o.event_id) : uuid();
    if (consent.state === 'denied') return id; // dropped: neither the pixel nor the server
    held.push({
      name: name,
      id: id,
      time: Math.floor(Date.now() / 1000),
      url: w.location.href,
      referrer: d.referrer || '',
      custom: customData,
      user: o.user_data,
      checkout: typeof o.checkout === 'string' && o.checkout.trim() &&
        o.checkout.trim().length <= 256 ? o.checkout.trim() : null,
      pixel: o.pixel !== false
    });
    if (consent.state === 'granted') schedule();
    else if (held.length > MAX_HELD) held.shift();
    return id;
  };
  api.consent = function (value) {
    if (value === 'required') {
      required = true;
      if (!decided && consent.source === 'none') consent = { state: 'pending', source: 'none' };
    } else if (value === 'granted' || value === 'denied') {
      setConsent(value, 'api', true);
    } else if (value !== undefined) {
      warn('consent takes "required", "granted" or "denied"');
    }
    return { state: consent.state, source: consent.source, required: required };
  };
  api.flush = flush;
  api.version = VERSION;
  api.loaded = true;
  w.signalyard = api;

  // --- start ---------------------------------------------------------------------------------
  // Calls made before the script loaded, in order (the snippet's stub gave tracks their id),
  // then the consent signals already on the page; only then is anything stored or sent.
  delete api.q;
  stubQueue.forEach(function (call) {
    var fn = call && api[call[0]];
    if (typeof fn === 'function') {
      try { fn.apply(api, call[1] || []); } catch (e) { warn(String(e)); }
    }
  });
  watchDataLayer();
  watchTcf();
  if (!tcfWatched) w.addEventListener('load', watchTcf);
  starting = false;
  if (consent.state === 'denied') held.length = 0;
  if (consent.state === 'granted') {
    persist();
    schedule();
  }
  w.addEventListener('pagehide', flush);
  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState === 'hidden') flush();
  });
})(window, document);
