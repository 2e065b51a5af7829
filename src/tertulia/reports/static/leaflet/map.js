// Draws the map of a Tertulia report page: its data is the JSON in #map-data (see reports/maps.py).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("map-data").textContent);
  var map = L.map("map", { preferCanvas: true, worldCopyJump: true });
  if (data.tiles) {
    L.tileLayer(data.tiles.url, { maxZoom: 19, attribution: data.tiles.attribution || "" }).addTo(map);
  } else {
    document.body.classList.add("no-tiles");
  }
  var bounds = [];
  data.points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: p.radius, color: "#1d4ed8", weight: 1, fillColor: "#3b82f6", fillOpacity: 0.55,
    }).addTo(map);
    // Text nodes only: a label can never become markup.
    var popup = document.createElement("dl");
    popup.className = "map-popup";
    (p.details.length ? p.details : [["", p.label]]).forEach(function (pair) {
      if (!pair[1]) return;
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      popup.appendChild(dt);
      popup.appendChild(dd);
    });
    marker.bindPopup(popup);
    marker.bindTooltip(document.createTextNode(p.label));
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length === 1) {
    map.setView(bounds[0], 12);
  } else if (bounds.length > 1) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
  } else {
    map.setView([0, 0], 2);
  }
  document.body.setAttribute("data-points", String(bounds.length));
})();
