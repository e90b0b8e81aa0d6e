// Applies the saved (or system) colour scheme before the first paint, to avoid a flash. Kept out of index.html
// because the server's Content-Security-Policy forbids inline scripts.
(function () {
  try {
    var saved = localStorage.getItem("mm-theme");
    var dark = saved === "dark" || ((!saved || saved === "system") && matchMedia("(prefers-color-scheme: dark)").matches);
    document.documentElement.classList.toggle("dark", dark);
  } catch (e) {}
})();
