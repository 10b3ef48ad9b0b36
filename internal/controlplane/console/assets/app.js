// Palisade console: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Selects marked data-autosubmit (the region picker, filters) apply at
  // once when picked with the mouse. From the keyboard the arrows change
  // the value as they go, so a change applies on Enter or on leaving the
  // select: the first arrow press left the page before.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    var keys = false, start = s.value;
    s.addEventListener("keydown", function (e) {
      keys = true;
      if (e.key === "Enter" && s.value !== start) { e.preventDefault(); s.form.submit(); }
    });
    s.addEventListener("mousedown", function () { keys = false; });
    s.addEventListener("change", function () { if (!keys) s.form.submit(); });
    s.addEventListener("blur", function () { if (keys && s.value !== start) s.form.submit(); });
  });
  // A change's preview or apply can take a few seconds: the form says it
  // is working and a second click does not send it again (an apply sent
  // twice would make the change twice).
  document.querySelectorAll("form[method=post]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (f.dataset.sent) { e.preventDefault(); return; }
      f.dataset.sent = "1";
      f.setAttribute("aria-busy", "true");
      var b = e.submitter || f.querySelector("[type=submit]");
      if (b) {
        b.setAttribute("aria-disabled", "true");
        var note = document.createElement("span");
        note.className = "muted working";
        note.setAttribute("role", "status");
        note.textContent = "Working…";
        b.after(note);
      }
    });
  });
  // Back to a page kept by the browser: its forms can be sent again. A
  // preview is asked again instead (a GET, at its own address): its
  // change may have been applied since, which its address then says.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    if (document.querySelector("form input[name=preview]")) { location.reload(); return; }
    document.querySelectorAll("form[data-sent]").forEach(function (f) {
      delete f.dataset.sent;
      f.removeAttribute("aria-busy");
      f.querySelectorAll(".working").forEach(function (n) { n.remove(); });
      f.querySelectorAll("[aria-disabled]").forEach(function (b) { b.removeAttribute("aria-disabled"); });
    });
  });
  // A page drawn from an older analysis while the current one is computed
  // reloads itself a moment later (the server then waits a little longer).
  // Not once the user has started filling in a form: that would be lost.
  var updating = document.querySelector("[data-reload]");
  if (updating) {
    var busy = false;
    ["input", "change", "focusin"].forEach(function (ev) {
      document.addEventListener(ev, function (e) { if (e.target.form) busy = true; });
    });
    setTimeout(function () { if (!busy) location.reload(); }, Number(updating.dataset.reload) || 1500);
  }
  // A preview whose audit diff was not ready fetches it from its address
  // (the server answers once it is computed) and shows it in place.
  // One that cannot be fetched (the network, or an answer that is neither
  // the diff nor an error of it: the session ended) says so, keeping the
  // link; it said "being computed" for good.
  var pending = document.getElementById("audit-pending");
  if (pending && pending.dataset.src && window.fetch) {
    var failed = function (why) {
      var note = document.getElementById("audit-pending");
      if (!note) return;
      note.className = "alert error";
      note.setAttribute("role", "alert");
      note.textContent = "The audit of the cloud as this change would leave it could not be shown here (" + why + "): ";
      var a = document.createElement("a");
      a.href = pending.dataset.src;
      a.target = "_blank";
      a.textContent = "open it";
      note.appendChild(a);
      note.appendChild(document.createTextNode(", or preview the change again."));
    };
    var load = function () {
      fetch(pending.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (doc.getElementById("updating")) { load(); return; } // still computing: ask again
        var got = doc.getElementById("audit-section") || doc.getElementById("api-error");
        var here = document.getElementById("audit-section");
        if (!got) { failed("the server answered another page: is the session over? Sign in again"); return; }
        if (here) { here.replaceWith(document.importNode(got, true)); }
      }).catch(function (e) { failed("the request failed: " + e.message); });
    };
    load();
  }
  // The rule form warns while typing when an administration or database
  // port would open to the internet or half of it, as the preview then
  // does: the server gives the risky ports (/udp: the service listens on
  // UDP too) and the smallest blocks that hold half the internet, so the
  // hint says what the server decides (riskyRule), no more, no less.
  var form = document.getElementById("rule-form");
  var warn = document.getElementById("risky-warning");
  if (form && warn) {
    var words = function (s) { return (s || "").trim().split(/\s+/).filter(Boolean); };
    var risky = words(form.dataset.risky).map(function (w) { return { port: parseInt(w, 10), udp: /\/udp$/.test(w) }; });
    // block reads an address or CIDR block as the API takes it, null for
    // anything else (a group, a prefix list, host bits set, a typo).
    var block = function (s) {
      var slash = s.indexOf("/"), a = slash < 0 ? s : s.slice(0, slash), len = slash < 0 ? "" : s.slice(slash + 1);
      var six = a.indexOf(":") >= 0, width = six ? 128 : 32, n = 0n;
      if (slash >= 0 && !/^(0|[1-9][0-9]{0,2})$/.test(len)) return null;
      var bits = slash < 0 ? width : Number(len);
      if (bits > width) return null;
      if (six) {
        var ends = a.split("::");
        if (ends.length > 2) return null;
        var head = ends[0] ? ends[0].split(":") : [], tail = ends.length === 2 && ends[1] ? ends[1].split(":") : [];
        var gap = 8 - head.length - tail.length;
        if (ends.length === 2 ? gap < 1 : gap !== 0) return null;
        var groups = head.concat(new Array(ends.length === 2 ? gap : 0).fill("0"), tail);
        for (var i = 0; i < groups.length; i++) {
          if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return null;
          n = (n << 16n) | BigInt(parseInt(groups[i], 16));
        }
      } else {
        var parts = a.split(".");
        if (parts.length !== 4) return null;
        for (var j = 0; j < 4; j++) {
          if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[j]) || Number(parts[j]) > 255) return null;
          n = (n << 8n) | BigInt(parts[j]);
        }
      }
      if (n & ((1n << BigInt(width - bits)) - 1n)) return null;
      return { six: six, bits: bits, addr: n, width: width };
    };
    var wide = words(form.dataset.wide).map(block);
    // holds says whether block a holds all of block b.
    var holds = function (a, b) {
      var host = BigInt(a.width - a.bits);
      return a.six === b.six && a.bits <= b.bits && (a.addr >> host) === (b.addr >> host);
    };
    var dir = document.getElementById("dir");
    var check = function () {
      var on = false;
      if (!dir || dir.value === "ingress") {
        form.querySelectorAll("tr.rule-row").forEach(function (row) {
          var get = function (n) { var e = row.querySelector("[name$='." + n + "']"); return e ? e.value.trim() : ""; };
          var peer = block(get("peer")), proto = get("protocol").toUpperCase(), ports = get("ports");
          if (get("policy") !== "accept" || !peer || !wide.some(function (w) { return holds(peer, w); })) return;
          if (proto === "ALL") { on = true; return; }
          if (proto !== "TCP" && proto !== "UDP") return;
          var open = risky.filter(function (p) { return proto === "TCP" || p.udp; });
          if (/^prl-[0-9a-z]+$/.test(ports)) { on = on || open.length > 0; return; } // any port of the list
          if (!/^[0-9]+([-\/][0-9]+)?$/.test(ports)) return; // the server refuses it
          var m = ports.split(/[-\/]/).map(Number), lo = m[0], hi = m.length > 1 ? m[1] : m[0];
          if (lo < 1 || hi > 65535 || lo > hi) return;
          open.forEach(function (p) { if (p.port >= lo && p.port <= hi) on = true; });
        });
      }
      warn.hidden = !on;
    };
    form.addEventListener("input", check);
    form.addEventListener("change", check);
    check();
  }
})();
