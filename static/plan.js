// /plan: long work shows progress while the server computes the figures and the map.
(function () {
  var form = document.getElementById("plan-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    var bar = document.getElementById("plan-progress");
    var status = document.getElementById("plan-status");
    var started = Date.now();
    bar.hidden = false;
    status.textContent = "正在计算…";
    setInterval(function () {
      status.textContent = "正在计算… 已用 " + Math.round((Date.now() - started) / 1000) + " 秒";
    }, 1000);
  });
  // Uploading candidates keeps the settings as they are on screen, even unsubmitted ones.
  var upload = document.getElementById("candidates-form");
  if (upload) {
    upload.addEventListener("submit", function () {
      upload.elements.query.value = new URLSearchParams(new FormData(form)).toString();
    });
  }
})();
