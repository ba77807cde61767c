// Fills the URL name from the title while the name has not been typed in.
// The server makes the same name from the title when the field is left empty.
(function () {
  var form = document.querySelector("form[data-slug-from]");
  if (!form) return;
  var title = form.querySelector("[name=" + form.dataset.slugFrom + "]");
  var name = form.querySelector("[name=" + form.dataset.slugTo + "]");
  if (!title || !name) return;
  var touched = name.value !== "";
  function slug(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-").replace(/-{2,}/g, "-").replace(/^[-_]+|[-_]+$/g, "")
      .slice(0, 100).replace(/[-_]+$/, "");
  }
  name.addEventListener("input", function () { touched = name.value !== ""; });
  title.addEventListener("input", function () { if (!touched) name.value = slug(title.value); });
})();
