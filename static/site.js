/* Things that only work with JavaScript start hidden and are shown here, so a browser
   without it never offers a button that does nothing. */
(function () {
  "use strict";
  var items = document.querySelectorAll("[data-needs-js]");
  for (var i = 0; i < items.length; i++) items[i].hidden = false;
  /* Irreversible actions ask first (data-confirm="…" on a form). */
  var forms = document.querySelectorAll("form[data-confirm]");
  for (var j = 0; j < forms.length; j++) {
    forms[j].addEventListener("submit", function (e) {
      if (!window.confirm(this.dataset.confirm)) e.preventDefault();
    });
  }
})();
