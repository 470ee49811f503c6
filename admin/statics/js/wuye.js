// Every unsafe request carries the session's CSRF token: a hidden field in each POST form,
// a header on jQuery's AJAX calls (sqladmin deletes rows with $.ajax DELETE).
// Inline event handlers (onchange="…") are blocked by our CSP (script-src 'self'): a form control marked
// data-autosubmit submits its form when its value changes.
// A checkbox marked data-check-all ticks or clears every checkbox in its table's body.
document.addEventListener('change', function (e) {
  var el = e.target;
  if (el && el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) { el.form.submit(); }
  if (el && el.hasAttribute && el.hasAttribute('data-check-all')) {
    el.closest('table').querySelectorAll('tbody input[type=checkbox]').forEach(function (c) { c.checked = el.checked; });
  }
});
// A submit button marked data-confirm asks first (deleting an attachment).
document.addEventListener('submit', function (e) {
  var button = e.submitter;
  if (button && button.hasAttribute('data-confirm') && !window.confirm(button.getAttribute('data-confirm'))) {
    e.preventDefault();
  }
});
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) { return; }
  var token = meta.getAttribute('content');
  function arm(form) {
    if ((form.getAttribute('method') || '').toLowerCase() !== 'post') { return; }
    if (form.querySelector('input[name="csrf_token"]')) { return; }
    var input = document.createElement('input');
    input.type = 'hidden'; input.name = 'csrf_token'; input.value = token;
    form.appendChild(input);
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('form').forEach(arm);
    // sqladmin's flash toasts are shown by an inline script, which our CSP does not run.
    if (window.tabler) {
      document.querySelectorAll('.toast').forEach(function (el) {
        new window.tabler.bootstrap.Toast(el, { delay: 3000 }).show();
      });
    }
  });
  document.addEventListener('submit', function (e) { arm(e.target); }, true);
  if (window.jQuery) {
    window.jQuery.ajaxSetup({ headers: { 'X-CSRF-Token': token } });
  }
})();
