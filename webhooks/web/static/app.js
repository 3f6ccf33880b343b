// Progressive enhancement only: every page works without this file.
// "Copy" buttons copy the text of the element their data-copy names.
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  var src = document.getElementById(b.dataset.copy);
  if (!src || !navigator.clipboard) return;
  b.hidden = false;
  b.addEventListener("click", function () {
    var out = b.parentNode.querySelector(".copied");
    navigator.clipboard.writeText(src.value || src.textContent).then(
      function () { if (out) out.textContent = "Copied."; },
      function () { if (out) out.textContent = "Could not copy: select the Markdown source and copy it."; });
  });
});
