// The runs page follows new runs and shard progress: every few seconds it asks
// the server for the table's rows (rendered and escaped there, by the same
// template as the page) and swaps them in when they changed.
(function () {
  var body = document.getElementById('run-rows');
  if (!body || !body.dataset.live) { return; }
  var last = null;
  function poll() {
    fetch(body.dataset.live, { headers: { 'Accept': 'text/html' }, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (rows) {
        if (rows !== null && rows !== last) {
          body.innerHTML = rows;
          last = rows;
        }
      })
      .catch(function () { /* the server is restarting: try again next time */ })
      .finally(function () { window.setTimeout(poll, 5000); });
  }
  poll();
}());
