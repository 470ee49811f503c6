/* wuye: a [data-print] button prints the page (no inline handlers: the CSP allows scripts from 'self' only). */
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
