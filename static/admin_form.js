/* The station form's map picker: a tap fills longitude and latitude in the map's datum
   (and sets the datum select to it), so the numbers and their datum always agree. */
(function () {
  "use strict";
  var box = document.getElementById("coordpicker");
  if (!box) return;
  var form = box.closest("form"), note = document.getElementById("coordpicker-note");
  var css = document.createElement("link");
  css.rel = "stylesheet"; css.href = box.dataset.leafletCss;
  document.head.appendChild(css);
  var js = document.createElement("script");
  js.src = box.dataset.leafletJs;
  js.onload = function () {
    var lat = parseFloat(form.lat.value), lon = parseFloat(form.lon.value);
    var known = isFinite(lat) && isFinite(lon) && form.datum.value === box.dataset.datum;
    var map = L.map(box).setView(known ? [lat, lon] : [39.9087, 116.3975], known ? 16 : 11);
    map.attributionControl.setPrefix("Leaflet");
    L.control.scale({metric: true, imperial: false}).addTo(map);
    var layer = L.tileLayer(box.dataset.tiles, {subdomains: box.dataset.subdomains || "abc",
                                               attribution: box.dataset.attr, maxZoom: 19});
    var loaded = 0;
    layer.on("tileload", function () { loaded++; });
    function failed() {
      if (!loaded) { note.textContent = "地图底图加载不出来，请直接输入经纬度。"; note.hidden = false; }
    }
    layer.on("tileerror", failed);
    setTimeout(failed, 8000);  /* a blocked tile host often hangs rather than fails */
    layer.addTo(map);
    var marker = known ? L.marker([lat, lon]).addTo(map) : null;
    map.on("click", function (e) {
      form.lon.value = e.latlng.lng.toFixed(6);
      form.lat.value = e.latlng.lat.toFixed(6);
      form.datum.value = box.dataset.datum;
      if (marker) marker.setLatLng(e.latlng); else marker = L.marker(e.latlng).addTo(map);
      note.textContent = "已填入 " + form.lon.value + ", " + form.lat.value + "（" +
        form.datum.options[form.datum.selectedIndex].text + "）";
      note.hidden = false;
    });
  };
  document.body.appendChild(js);
})();
