/* The share box of a parcel page: copy the stable public URL. Without JavaScript (or clipboard
   permission) the URL stays selectable in its read-only field. */
(function () {
  "use strict";
  var button = document.getElementById("share-copy");
  if (!button) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  var said = document.getElementById("share-copied");
  function done(ok) { if (said) { said.textContent = ok ? "已复制" : "请手动复制上面的链接"; } }
  button.addEventListener("click", function () {
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(false); });
    } else {
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
  });
})();
