// The reachability map: groups as nodes, allowed flows as edges, drawn by
// cytoscape.js (vendored). The data comes from the page (map-data); an edge
// opens the page listing the rules on both sides that open it.
(function () {
  "use strict";
  var el = document.getElementById("map"), src = document.getElementById("map-data");
  if (!el || !src || typeof cytoscape === "undefined") return;
  var data = JSON.parse(src.textContent);
  var elements = [];
  data.nodes.forEach(function (n) {
    // A long name (up to 128 characters) is cut short: the map was zoomed
    // out to fit it, every label unreadable. The edges table names it whole.
    var name = n.label.length > 32 ? n.label.slice(0, 31) + "\u2026" : n.label;
    var label = n.kind === "internet" ? "Internet" : n.kind === "memberless" ? name : name + " (" + n.members + ")";
    elements.push({ group: "nodes", data: { id: n.id, label: label, kind: n.kind } });
  });
  data.edges.forEach(function (e) {
    elements.push({ group: "edges", data: { id: e.id, source: e.source, target: e.target, label: e.ports, warn: e.warn ? 1 : 0, href: e.href } });
  });
  var cy = cytoscape({
    container: el,
    elements: elements,
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { "background-color": "#1f5fbf", "label": "data(label)", "font-size": 10, "color": "#1d2430", "text-valign": "bottom", "text-margin-y": 4, "width": 18, "height": 18 } },
      { selector: "node[kind = 'internet']", style: { "background-color": "#6b7280", "shape": "round-rectangle", "width": 30, "height": 22 } },
      { selector: "node[kind = 'memberless']", style: { "background-color": "#fff", "border-width": 1, "border-style": "dashed", "border-color": "#6b7280", "shape": "round-rectangle", "width": 30, "height": 22, "text-wrap": "wrap", "text-max-width": 90 } },
      { selector: "edge", style: { "width": 1.5, "line-color": "#8aa4c8", "target-arrow-color": "#8aa4c8", "target-arrow-shape": "triangle", "curve-style": "bezier", "font-size": 8, "text-rotation": "autorotate" } },
      { selector: "edge[warn = 1]", style: { "line-color": "#d97706", "target-arrow-color": "#d97706", "width": 3, "label": "data(label)", "color": "#b45309" } },
      { selector: "edge:selected", style: { "label": "data(label)", "line-color": "#14213d", "target-arrow-color": "#14213d" } }
    ],
    layout: { name: data.nodes.length > 60 ? "concentric" : "cose", animate: false, nodeDimensionsIncludeLabels: true, padding: 20 }
  });
  // A few groups would be fitted to the box at a zoom that makes their
  // labels huge and overlapping: past this zoom the map is centred instead.
  var capZoom = function () {
    if (cy.zoom() > 1.5) {
      cy.zoom(1.5);
      cy.center();
    }
  };
  capZoom();
  cy.on("layoutstop", capZoom);
  cy.on("tap", "edge", function (evt) { window.location.href = evt.target.data("href"); });
  // The node of the groups without members leads to their list.
  cy.on("tap", "node[kind = 'memberless']", function () { window.location.hash = "memberless-h"; });
  // For tests and the curious: the edges drawn, as "from>to".
  window.palisadeMap = { edges: function () { return cy.edges().map(function (e) { return e.data("source") + ">" + e.data("target"); }); }, cy: cy };
  el.dataset.ready = "1";
})();
