(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("pocknet-data").textContent);
  var api = window.pocknetView = { ready: false, focused: 0, error: null };
  var message = document.getElementById("message");
  function fail(text) {
    api.error = text;
    message.textContent = text;
    console.error("pocknet view: " + text);
  }
  if (typeof $3Dmol === "undefined") { fail("The viewer library did not load."); return; }
  var GREY = "#d3d3d3";
  var colourOf = {}, residueRank = {};
  D.pockets.forEach(function (p) {
    colourOf[p.rank] = p.colour;
    p.residues.forEach(function (r) { if (!(r in residueRank)) residueRank[r] = p.rank; });
  });
  function ramp(p) {  // blue (0) -> white (0.5) -> red (1), PyMOL's blue_white_red
    p = Math.max(0, Math.min(1, p));
    var a = [33, 102, 172], m = [247, 247, 247], b = [178, 24, 43], lo = p < 0.5, t = lo ? p / 0.5 : (p - 0.5) / 0.5;
    var from = lo ? a : m, to = lo ? m : b, c = [0, 1, 2].map(function (i) { return Math.round(from[i] + (to[i] - from[i]) * t); });
    return "rgb(" + c.join(",") + ")";
  }
  function residueId(atom) {
    var icode = (atom.icode || "").trim();
    return (atom.chain || "").trim() + "_" + atom.resi + icode;
  }
  var el = document.getElementById("viewer");
  var viewer;
  try {
    viewer = $3Dmol.createViewer(el, { backgroundColor: "white", antialias: true });
  } catch (e) { viewer = null; }
  if (!viewer) { fail("This page needs WebGL, which this browser has switched off."); return; }
  api.viewer = viewer;
  var protein = viewer.addModel(D.structure.text, D.structure.format);
  var pid = protein.getID();
  var pts = viewer.addModel();
  var ptsId = pts.getID();
  var xyz = D.points.xyz, atoms = [];
  for (var i = 0; i < D.points.rank.length; i++) {
    atoms.push({ elem: "C", atom: "C", resn: "STP", chain: "", hetflag: true, serial: i + 1, index: i,
                 resi: D.points.rank[i], b: D.points.p[i], x: xyz[3 * i], y: xyz[3 * i + 1], z: xyz[3 * i + 2] });
  }
  pts.addAtoms(atoms);
  var ref = null;
  if (D.reference.length) {  // the ligand atoms an evaluation scored against
    ref = viewer.addModel();
    var refAtoms = [];
    for (var j = 0; j < D.reference.length / 3; j++) {
      refAtoms.push({ elem: "X", atom: "X", resn: "REF", chain: "", hetflag: true, serial: j + 1, index: j, resi: 1,
                      x: D.reference[3 * j], y: D.reference[3 * j + 1], z: D.reference[3 * j + 2] });
    }
    ref.addAtoms(refAtoms);
  }
  var controls = {
    surface: document.getElementById("ctl-surface"),
    ligands: document.getElementById("ctl-ligands"),
    points: document.getElementById("ctl-points"),
    colour: document.getElementById("ctl-colour")
  };
  controls.surface.checked = !!D.surface;
  if (!D.residues) {
    controls.colour.querySelector("option[value=residue]").disabled = true;
    controls.colour.title = "Residue scores need <name>_residues.csv (the csv format)";
  }
  function proteinColour(atom) {
    if (controls.colour.value === "residue" && D.residues) {
      var p = D.residues[residueId(atom)];
      return (p === undefined || p === null) ? GREY : ramp(p);
    }
    var rank = residueRank[residueId(atom)];
    return rank ? colourOf[rank] : GREY;
  }
  var isLigand = function (atom) { return atom.hetflag && D.waters.indexOf(atom.resn) < 0; };
  var isPolymer = function (atom) { return !atom.hetflag; };
  function applyStyles() {
    viewer.setStyle({ model: pid }, {});
    viewer.setStyle({ model: pid, predicate: isPolymer }, { cartoon: { colorfunc: proteinColour } });
    if (api.focused) {
      viewer.addStyle({ model: pid, predicate: function (a) { return isPolymer(a) && residueRank[residueId(a)] === api.focused; } },
                      { stick: { radius: 0.18, colorfunc: proteinColour } });
    }
    if (controls.ligands.checked) {
      viewer.addStyle({ model: pid, predicate: isLigand },
                      { stick: { radius: 0.2, colorscheme: "greenCarbon" }, sphere: { scale: 0.25, colorscheme: "greenCarbon" } });
    }
    if (ref) {
      viewer.setStyle({ model: ref.getID() }, controls.ligands.checked ? { sphere: { radius: 0.45, color: "#d400d4" } } : {});
    }
    var mode = controls.points.value;
    viewer.setStyle({ model: ptsId }, {});
    if (mode !== "off") {
      var inPocket = function (a) { return a.resi > 0; };
      var select = mode === "all" ? function () { return true; } : inPocket;
      var colour = mode === "rank" ? function (a) { return colourOf[a.resi] || GREY; } : function (a) { return ramp(a.b); };
      // all points: the likely ones larger (8 sizes), so the pockets stand out of the cloud
      var level = function (a) { return mode === "all" ? Math.round(a.b * 8) : -1; };
      var levels = mode === "all" ? [0, 1, 2, 3, 4, 5, 6, 7, 8] : [-1];
      levels.forEach(function (k) {
        viewer.setStyle({ model: ptsId, predicate: function (a) { return select(a) && level(a) === k; } },
                        { sphere: { radius: k < 0 ? 0.42 : 0.12 + 0.05 * k, colorfunc: colour } });
      });
      if (api.focused) {
        viewer.setStyle({ model: ptsId, predicate: function (a) { return a.resi === api.focused; } },
                        { sphere: { radius: 0.6, colorfunc: colour } });
      }
    }
  }
  var surface = null;
  function updateSurface() {
    if (surface !== null) { viewer.removeSurface(surface); surface = null; }
    if (!controls.surface.checked) { viewer.render(); return Promise.resolve(); }
    return Promise.resolve(viewer.addSurface($3Dmol.SurfaceType.MS, { opacity: 0.72, colorfunc: proteinColour },
                                             { model: pid, predicate: isPolymer }))
      .then(function (id) { surface = id; viewer.render(); });
  }
  function redraw() { applyStyles(); viewer.render(); }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#pockets tbody tr"));
  var centre = (function () {
    var c = [0, 0, 0], n = 0;
    protein.selectedAtoms({ predicate: isPolymer }).forEach(function (a) { c[0] += a.x; c[1] += a.y; c[2] += a.z; n++; });
    return n ? c.map(function (v) { return v / n; }) : c;
  })();
  function facing(target) {  // the rotation that turns the pocket's side of the protein towards the viewer
    var d = [target[0] - centre[0], target[1] - centre[1], target[2] - centre[2]];
    var len = Math.hypot(d[0], d[1], d[2]);
    if (len < 1e-6) return null;
    d = d.map(function (v) { return v / len; });
    var w = 1 + d[2];  // quaternion turning d onto +z (towards the camera): (d x z, 1 + d.z), normalised
    if (w < 1e-6) return [1, 0, 0, 0];
    var q = [d[1], -d[0], 0, w], n = Math.hypot(q[0], q[1], q[2], q[3]);
    return q.map(function (v) { return v / n; });
  }
  var pocketCentre = {};
  D.pockets.forEach(function (p) { pocketCentre[p.rank] = p.centre; });
  function focus(rank) {
    api.focused = rank;
    rows.forEach(function (r) { r.classList.toggle("focused", Number(r.dataset.rank) === rank); });
    applyStyles();
    if (rank) {  // turn the pocket towards the viewer, fit it, then step back so its surroundings stay in view
      var q = pocketCentre[rank] ? facing(pocketCentre[rank]) : null;
      if (q) { var view = viewer.getView(); view[4] = q[0]; view[5] = q[1]; view[6] = q[2]; view[7] = q[3]; viewer.setView(view); }
      viewer.zoomTo({ predicate: function (a) {
        return (a.model === ptsId && a.resi === rank) || (a.model === pid && !a.hetflag && residueRank[residueId(a)] === rank);
      } }, 0);
      viewer.zoom(0.6, 300);
    } else {
      viewer.zoomTo({ model: pid }, 400);
    }
    viewer.render();
  }
  api.focus = focus;
  rows.forEach(function (row) {
    row.addEventListener("click", function () { focus(Number(row.dataset.rank)); });
    row.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); focus(Number(row.dataset.rank)); } });
  });
  document.getElementById("ctl-reset").addEventListener("click", function () { focus(0); });
  controls.points.addEventListener("change", redraw);
  controls.ligands.addEventListener("change", redraw);
  controls.colour.addEventListener("change", function () { redraw(); updateSurface(); });
  controls.surface.addEventListener("change", updateSurface);
  viewer.setHoverable({}, true, function (atom, v) {
    if (atom.hoverLabel) return;
    var text = atom.model === ptsId
      ? (atom.resi ? "pocket " + atom.resi + " · " : "") + "point p " + atom.b.toFixed(2)
      : (ref && atom.model === ref.getID()) ? "reference ligand atom"
      : atom.resn + " " + ((atom.chain || "").trim() ? atom.chain.trim() + " " : "") + atom.resi + ((atom.icode || "").trim());
    atom.hoverLabel = v.addLabel(text, { position: atom, fontSize: 12, fontColor: "white", backgroundColor: "black",
                                         backgroundOpacity: 0.75, inFront: true });
  }, function (atom, v) { if (atom.hoverLabel) { v.removeLabel(atom.hoverLabel); delete atom.hoverLabel; } });
  applyStyles();
  viewer.zoomTo({ model: pid });
  viewer.render();
  updateSurface().then(function () { api.ready = true; document.body.dataset.ready = "1"; },
                       function (e) { fail("Surface failed: " + e); api.ready = true; document.body.dataset.ready = "1"; });
})();
