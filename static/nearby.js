/* The rider page: locate with the phone, or pick a point on a map (Leaflet loaded on demand). */
(function () {
  "use strict";
  var form = document.getElementById("finder");
  if (!form) return;
  var status = document.getElementById("locate-status");
  var buttons = document.querySelectorAll("[data-needs-js]");
  for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;

  function go(lat, lon, datum) {
    form.lat.value = lat.toFixed(6); form.lon.value = lon.toFixed(6); form.datum.value = datum || "wgs84";
    form.district.value = ""; form.submit();
  }

  function locate() {
    if (!navigator.geolocation) { status.textContent = "此浏览器不能定位，请选择区或在地图上选点。"; return; }
    status.textContent = "正在定位……";
    navigator.geolocation.getCurrentPosition(function (p) { go(p.coords.latitude, p.coords.longitude, "wgs84"); },
      function () { status.textContent = "无法获取位置，请选择区或在地图上选点。"; },
      {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  }
  var locators = document.querySelectorAll("[data-locate]");
  for (var j = 0; j < locators.length; j++) locators[j].addEventListener("click", locate);

  var pick = document.getElementById("pick-on-map");
  if (!pick) return;
  pick.addEventListener("click", function () {
    var box = document.getElementById("pickmap");
    box.hidden = false;
    if (window.L) return;
    var css = document.createElement("link");
    css.rel = "stylesheet"; css.href = box.dataset.leafletCss;
    document.head.appendChild(css);
    var js = document.createElement("script");
    js.src = box.dataset.leafletJs;
    js.onload = function () {
      var map = L.map(box).setView([39.9087, 116.3975], 12);
      map.attributionControl.setPrefix("Leaflet");
      var layer = L.tileLayer(box.dataset.tiles, {subdomains: box.dataset.subdomains || "abc",
                                                 attribution: box.dataset.attr, maxZoom: 18});
      var loaded = 0, failed = 0, warned = false;
      layer.on("tileload", function () { loaded++; });
      setTimeout(function () { layer.fire("tileerror"); }, 8000);  /* a blocked host often hangs */
      layer.on("tileerror", function () {
        failed++;
        if (!warned && loaded === 0) {
          warned = true;
          var note = document.getElementById("pickmap-note");
          note.textContent = "地图底图加载不出来（网络不通或太慢）。仍可在格子上点选位置，或改用“选择区”。";
          note.hidden = false;
        }
      });
      layer.addTo(map);
      map.on("click", function (e) { go(e.latlng.lat, e.latlng.lng, box.dataset.datum); });
      status.textContent = "点击地图上的位置查找附近驿站。";
    };
    document.body.appendChild(js);
  });
})();
