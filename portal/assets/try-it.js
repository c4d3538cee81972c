/* Try-it console: Swagger UI vendored from a pip package, no network but the gateway.
 * Loads the live contract from the gateway (/openapi.json) when the docs are served by
 * it, else the copy shipped with the docs; requests go to the origin serving the page. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") { return; }
  var status = document.getElementById("tryit-status");
  var input = document.getElementById("tryit-token");
  var KEY = "unispec.tryit.token";
  var ui = null;

  function say(text) { if (status) { status.textContent = text; } }

  function schemeName(spec) {
    var schemes = (spec.components && spec.components.securitySchemes) || {};
    var names = Object.keys(schemes);
    for (var i = 0; i < names.length; i++) {
      var s = schemes[names[i]];
      if (s && s.type === "http" && String(s.scheme).toLowerCase() === "bearer") { return names[i]; }
    }
    return names.length ? names[0] : "bearerAuth";
  }

  function deepLink(spec) {
    var hash = window.location.hash.replace(/^#/, "");
    if (!hash || hash.charAt(0) === "/") { return; }
    var paths = spec.paths || {};
    Object.keys(paths).forEach(function (p) {
      Object.keys(paths[p] || {}).forEach(function (m) {
        var op = paths[p][m];
        if (op && op.operationId === hash) {
          var tag = (op.tags && op.tags[0]) || "default";
          window.location.hash = "#/" + encodeURIComponent(tag) + "/" + encodeURIComponent(hash);
        }
      });
    });
  }

  function start(spec, fromGateway) {
    var servers = spec.servers || [];
    if (fromGateway) {
      spec.servers = [{ url: window.location.origin, description: "this gateway" }].concat(
        servers.filter(function (s) { return s.url !== window.location.origin; }));
    }
    deepLink(spec);
    var scheme = schemeName(spec);
    ui = SwaggerUIBundle({
      spec: spec,
      domNode: root,
      deepLinking: true,
      validatorUrl: null,
      tryItOutEnabled: false,
      displayOperationId: true,
      docExpansion: "none",
      defaultModelsExpandDepth: -1,
      persistAuthorization: false,
      syntaxHighlight: { activated: true, theme: "agate" },
      requestInterceptor: function (req) {
        var token = input ? input.value.trim() : "";
        if (token && !req.headers.Authorization) { req.headers.Authorization = "Bearer " + token; }
        return req;
      },
      onComplete: function () {
        root.setAttribute("data-ready", "true");
        var saved = window.sessionStorage ? sessionStorage.getItem(KEY) : null;
        if (saved && input && !input.value) { input.value = saved; apply(); }
      },
    });
    window.unispecTryIt = { ui: ui, scheme: scheme, fromGateway: fromGateway };

    function apply() {
      var token = input ? input.value.trim() : "";
      if (ui && token) {
        ui.preauthorizeApiKey(scheme, token);
        if (window.sessionStorage) { sessionStorage.setItem(KEY, token); }
        say("token set");
      }
    }
    var button = document.getElementById("tryit-apply");
    if (button) { button.addEventListener("click", apply); }
    if (input) { input.addEventListener("change", apply); }
  }

  function load(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": " + r.status); }
      return r.json();
    });
  }

  var remote = root.getAttribute("data-spec-remote");
  var local = root.getAttribute("data-spec-local");
  var viaHttp = window.location.protocol === "http:" || window.location.protocol === "https:";
  (viaHttp ? load(remote).then(function (s) { return [s, true]; }) : Promise.reject(new Error("file")))
    .catch(function () { return load(local).then(function (s) { return [s, false]; }); })
    .then(function (pair) { start(pair[0], pair[1]); say(pair[1] ? "contract from the gateway" : "bundled contract"); })
    .catch(function (err) { say("could not load the contract: " + err.message); });
})();
