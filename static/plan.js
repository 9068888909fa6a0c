// /plan: long work shows progress while the server computes the figures and the map.
(function () {
  var printButton = document.getElementById("plan-print-button");
  if (printButton) {
    printButton.addEventListener("click", function () { window.print(); });
  }
  var form = document.getElementById("plan-form");
  if (form) {
    // A station picked on the map (its popup's 假设关闭此站) joins the what-if's 关闭站点.
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (event.origin !== window.location.origin || data.yizhan !== "close-station") { return; }
      var id = parseInt(data.id, 10);
      if (!(id > 0)) { return; }
      var field = form.elements.close;
      var ids = field.value.split(/[,，\s]+/).filter(function (v) { return v !== ""; });
      if (ids.indexOf(String(id)) < 0) { ids.push(String(id)); }
      field.value = ids.join(",");
      var status = document.getElementById("plan-status");
      if (status) { status.textContent = "已把站点 #" + id + " 加入“关闭站点”：点“计算”查看前后对比。"; }
    });
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
    // Uploading candidates or a demand layer, or saving a scenario, keeps the settings as
    // they are on screen, even unsubmitted ones.
    ["candidates-form", "demand-form", "scenario-form"].forEach(function (id) {
      var other = document.getElementById(id);
      if (other && other.elements.query) {
        other.addEventListener("submit", function () {
          var settings = new URLSearchParams(new FormData(form));
          settings.delete("run");
          other.elements.query.value = settings.toString();
        });
      }
    });
  }
  // A background job (/plan/jobs/<key>): its place in the queue, then its stages; the outcome when done.
  var job = document.getElementById("plan-job");
  if (!job || !document.getElementById("plan-job-stages")) { return; }
  var failures = 0;
  function show(s) {
    var queue = document.getElementById("plan-job-queue");
    if (queue) {
      queue.hidden = s.state !== "queued" || s.ahead === null || s.ahead === undefined;
      if (!queue.hidden) {
        queue.textContent = "排队中：前面还有 " + s.ahead + " 个任务（同时最多运行 " + s.at_once + " 个后台任务）";
      }
    }
    document.getElementById("plan-job-progress").value = s.step;
    document.getElementById("plan-job-stage").textContent =
      "第 " + s.step + " / " + s.steps + " 步：" + s.stage_name;
    (s.stages || []).forEach(function (stage) {
      var li = job.querySelector('li[data-stage="' + stage.key + '"]');
      if (!li) { return; }
      li.className = stage.done ? "done" : (stage.current ? "current" : "");
      li.textContent = li.textContent.replace(/ [✓…]$/, "") + (stage.done ? " ✓" : (stage.current ? " …" : ""));
    });
  }
  function poll() {
    fetch(job.getAttribute("data-status-url"), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        failures = 0;
        if (s.finished) { window.location.replace(job.getAttribute("data-page-url")); return; }
        show(s);
        setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;
        setTimeout(poll, Math.min(10000, 1000 * failures));
      });
  }
  setTimeout(poll, 500);
})();
