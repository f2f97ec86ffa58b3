/*! kindred.js: first-party tracking for Kindred (Segment-spec page/identify/track).
 *
 * <script src="https://cdp.example.com/v1/kindred.js" data-write-key="wk_..." async></script>
 * <script>
 *   window.kindred = window.kindred || [];  // calls made before the script loads are queued
 *   kindred.push(["page"]);
 * </script>
 * Then: kindred.page(name?, properties?), kindred.identify(userId?, traits?),
 *       kindred.track(event, properties?), kindred.reset().
 *
 * Events are sent to <script origin>/v1/batch with the write key in the body (`writeKey`),
 * as text/plain via navigator.sendBeacon (no CORS preflight), falling back to fetch with
 * keepalive. The anonymous id lives in the first-party cookie `kindred_anon_id` (1 year).
 */
(function (window, document) {
  "use strict";
  var VERSION = "1.0.0";
  var COOKIE = "kindred_anon_id";
  var USER_KEY = "kindred_user_id";
  var script = document.currentScript ||
    document.querySelector("script[data-write-key][src*='kindred.js']");
  var writeKey = (script && script.getAttribute("data-write-key")) ||
    (window.kindredConfig && window.kindredConfig.writeKey) || "";
  var endpoint = (window.kindredConfig && window.kindredConfig.host) ||
    (script && script.src ? script.src.replace(/\/v1\/kindred\.js.*$/, "") : "");

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  function readCookie(name) {
    var parts = ("; " + document.cookie).split("; " + name + "=");
    return parts.length === 2 ? decodeURIComponent(parts.pop().split(";").shift()) : null;
  }

  function writeCookie(name, value, days) {
    var expires = new Date(Date.now() + days * 864e5).toUTCString();
    document.cookie = name + "=" + encodeURIComponent(value) + "; expires=" + expires +
      "; path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }

  function anonymousId() {
    var id = readCookie(COOKIE);
    if (!id) { id = uuid(); }
    writeCookie(COOKIE, id, 365);  // refreshed on every visit
    return id;
  }

  function userId() {
    try { return window.localStorage.getItem(USER_KEY); } catch (e) { return null; }
  }

  function pageContext() {
    return {
      url: location.href,
      path: location.pathname,
      search: location.search,
      referrer: document.referrer,
      title: document.title
    };
  }

  function send(message) {
    var now = new Date().toISOString();
    message.messageId = uuid();
    message.timestamp = now;
    message.anonymousId = anonymousId();
    var uid = userId();
    if (uid && !message.userId) { message.userId = uid; }
    message.context = {
      page: pageContext(),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      library: { name: "kindred.js", version: VERSION }
    };
    var body = JSON.stringify({ batch: [message], sentAt: now, writeKey: writeKey });
    var url = endpoint + "/v1/batch";
    var blob = new Blob([body], { type: "text/plain" });
    if (navigator.sendBeacon && navigator.sendBeacon(url, blob)) { return; }
    if (window.fetch) {
      window.fetch(url, {
        method: "POST", body: body, keepalive: true, mode: "no-cors",
        headers: { "Content-Type": "text/plain" }
      });
    }
  }

  var api = {
    VERSION: VERSION,
    page: function (name, properties) {
      var p = pageContext();
      var props = properties || {};
      for (var k in p) { if (!(k in props)) { props[k] = p[k]; } }
      send({ type: "page", name: name || undefined, properties: props });
    },
    identify: function (id, traits) {
      if (typeof id === "object" && id !== null) { traits = id; id = null; }
      if (id) {
        try { window.localStorage.setItem(USER_KEY, String(id)); } catch (e) { /* private mode */ }
      }
      send({ type: "identify", userId: id ? String(id) : undefined, traits: traits || {} });
    },
    track: function (event, properties) {
      send({ type: "track", event: String(event), properties: properties || {} });
    },
    reset: function () {
      try { window.localStorage.removeItem(USER_KEY); } catch (e) { /* ignore */ }
      writeCookie(COOKIE, uuid(), 365);
    },
    push: function (call) { api[call[0]].apply(api, call.slice(1)); }
  };

  var queued = window.kindred;
  window.kindred = api;
  if (queued && queued.length) {
    for (var i = 0; i < queued.length; i++) { api.push(queued[i]); }
  }
})(window, document);
