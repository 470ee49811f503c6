// A background import or export: poll its status every second, fill the progress bar, and reload the page
// (which then shows the outcome) once the job has ended. The page is served with a CSP that forbids inline
// scripts, hence this file.
(function () {
  var box = document.querySelector('[data-job-status]');
  if (!box) { return; }
  var bar = box.querySelector('.progress-bar');
  var text = box.querySelector('[data-job-text]');
  function show(s) {
    bar.style.width = s.percent + '%';
    bar.setAttribute('aria-valuenow', String(s.percent));
    text.textContent = s.stage + (s.total ? '：' + s.done + ' / ' + s.total : '') + '（' + s.seconds + ' 秒）';
  }
  function poll() {
    fetch(box.getAttribute('data-job-status'), { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (response) { return response.json(); })
      .then(function (s) {
        show(s);
        if (s.state === 'running' || s.state === 'queued') { window.setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
