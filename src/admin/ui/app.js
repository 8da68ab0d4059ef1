// imgate admin UI: hash-routed pages over the JSON API (/api/*). Every value
// from the record store is attacker-controlled (message texts, names,
// accounts): it is only ever put into the page with textContent, never as
// markup. No inline script (the page's CSP forbids it).
'use strict';
(function () {
  var PAGES = ['dashboard', 'live', 'conversations', 'search', 'files', 'policy'];
  var PALETTE = ['#2454c5', '#d92d20', '#039855', '#f79009', '#7a5af8', '#0ba5ec', '#c11574', '#667085', '#a15c07'];
  var ACTION_COLORS = { allow: '#039855', block: '#d92d20', redact: '#f79009', log: '#667085' };
  var LIVE_MAX_ROWS = 500;
  var WINDOWS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

  var $ = function (id) { return document.getElementById(id); };

  /** Creates an element whose only content is text (never parsed as HTML). */
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function fmtTime(ms) {
    if (typeof ms !== 'number') return '';
    return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  }

  function showError(msg) {
    var e = $('error');
    e.textContent = msg || '';
    e.hidden = !msg;
  }

  function api(path, params) {
    var qs = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    });
    var url = '/api/' + path + (qs.toString() ? '?' + qs.toString() : '');
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(path + ': ' + (body.error || r.status));
        return body;
      });
    });
  }

  function clear(tbody) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  }

  function verdictCell(action) {
    return el('td', action || '', action ? 'v-' + action : '');
  }

  function textOf(ev) {
    if (ev.kind === 'file' || ev.file_name) {
      var s = ev.file_name || '(unnamed file)';
      if (ev.file_size !== null && ev.file_size !== undefined) s += ' (' + ev.file_size + ' bytes)';
      return s;
    }
    return ev.text !== null && ev.text !== undefined ? ev.text : (ev.url || '');
  }

  /** One event as a table row; `cols` picks the columns the table shows. */
  function eventRow(ev, cols) {
    var tr = el('tr');
    tr.dataset.seq = String(ev.seq);
    cols.forEach(function (c) {
      var td;
      if (c === 'time') td = el('td', fmtTime(ev.time));
      else if (c === 'protocol') td = el('td', ev.app && ev.app !== ev.protocol ? (ev.protocol || '') + '/' + ev.app : ev.protocol || ev.app || '');
      else if (c === 'action') td = verdictCell(ev.action);
      else if (c === 'text') td = el('td', textOf(ev), 'text');
      else td = el('td', ev[c] === null || ev[c] === undefined ? '' : ev[c]);
      td.dataset.col = c;
      tr.appendChild(td);
    });
    return tr;
  }

  var FULL_COLS = ['time', 'user', 'protocol', 'direction', 'account', 'peer', 'kind', 'action', 'rule', 'text'];

  // ---------- dashboard ----------

  function seriesChart(canvasId, data, colorFor) {
    var labels = [];
    for (var t = Math.floor(data.since / data.bucketMs) * data.bucketMs; t <= data.until; t += data.bucketMs) labels.push(t);
    var index = {};
    labels.forEach(function (t, i) { index[t] = i; });
    var keys = [];
    var byKey = {};
    data.points.forEach(function (p) {
      if (!byKey[p.key]) {
        byKey[p.key] = labels.map(function () { return 0; });
        keys.push(p.key);
      }
      var i = index[p.t];
      if (i !== undefined) byKey[p.key][i] += p.count;
    });
    var datasets = keys.map(function (k, i) {
      var color = colorFor ? colorFor(k, i) : PALETTE[i % PALETTE.length];
      return { label: k, data: byKey[k], backgroundColor: color, borderColor: color, stack: 's' };
    });
    var canvas = $(canvasId);
    var existing = window.Chart && window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    if (!window.Chart) throw new Error('chart.js did not load');
    var short = data.bucketMs < 86400e3;
    new window.Chart(canvas, {
      type: 'bar',
      data: { labels: labels.map(function (t) { return short ? fmtTime(t).slice(5, 16) : fmtTime(t).slice(0, 10); }), datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true, ticks: { maxTicksLimit: 12 } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
    });
  }

  function reportTable(id, lines) {
    var tbody = $(id).tBodies[0];
    clear(tbody);
    lines.forEach(function (l) {
      var tr = el('tr');
      tr.appendChild(el('td', l.key));
      tr.appendChild(el('td', l.messages));
      tr.appendChild(el('td', l.files));
      tr.appendChild(el('td', l.blocks));
      tr.appendChild(el('td', (l.top_peers || []).map(function (p) { return p.peer + ' (' + p.count + ')'; }).join(', ')));
      tbody.appendChild(tr);
    });
  }

  function loadDashboard() {
    var span = WINDOWS[$('dash-window').value] || WINDOWS['24h'];
    var until = Date.now();
    var since = until - span;
    var win = { since: since, until: until };
    document.body.dataset.dashboard = 'loading';
    return Promise.all([
      api('summary', win),
      api('series', { since: since, until: until, by: 'app' }),
      api('series', { since: since, until: until, by: 'user' }),
      api('series', { since: since, until: until, by: 'action' }),
    ]).then(function (r) {
      var total = r[0].report.total;
      $('total-events').textContent = total.events;
      $('total-messages').textContent = total.messages;
      $('total-files').textContent = total.files;
      $('total-blocks').textContent = total.blocks;
      reportTable('report-users', r[0].report.by_user);
      reportTable('report-protocols', r[0].report.by_protocol);
      seriesChart('chart-protocol', r[1]);
      seriesChart('chart-user', r[2]);
      seriesChart('chart-action', r[3], function (k, i) { return ACTION_COLORS[k] || PALETTE[i % PALETTE.length]; });
      document.body.dataset.dashboard = 'ready';
    });
  }

  // ---------- live ----------

  var live = { timer: null, lastSeq: null, busy: false };

  function pollLive() {
    if (live.busy) return;
    live.busy = true;
    api('live', live.lastSeq === null ? { limit: 100 } : { afterSeq: live.lastSeq, limit: 200 })
      .then(function (r) {
        var tbody = $('live-table').tBodies[0];
        // Newest on top.
        r.events.forEach(function (ev) { tbody.insertBefore(eventRow(ev, FULL_COLS), tbody.firstChild); });
        while (tbody.rows.length > LIVE_MAX_ROWS) tbody.removeChild(tbody.lastChild);
        live.lastSeq = r.lastSeq;
        $('live-status').textContent = 'Last update ' + fmtTime(Date.now()) + ' UTC.';
        document.body.dataset.liveSeq = String(r.lastSeq);
        showError('');
      })
      .catch(function (e) { showError(e.message); })
      .then(function () { live.busy = false; });
  }

  function startLive() {
    if (live.timer) return;
    pollLive();
    live.timer = setInterval(pollLive, 1000);
  }

  function stopLive() {
    if (live.timer) clearInterval(live.timer);
    live.timer = null;
  }

  // ---------- conversations and transcripts ----------

  function loadConversations() {
    return api('conversations', { limit: 200 }).then(function (r) {
      var tbody = $('conv-table').tBodies[0];
      clear(tbody);
      r.conversations.forEach(function (c) {
        var tr = el('tr', null, 'clickable');
        tr.appendChild(el('td', c.app && c.app !== c.protocol ? (c.protocol || '') + '/' + c.app : c.protocol || c.app || ''));
        tr.appendChild(el('td', c.account));
        tr.appendChild(el('td', c.peer));
        tr.appendChild(el('td', c.messages));
        tr.appendChild(el('td', c.blocks));
        tr.appendChild(el('td', fmtTime(c.last)));
        tr.addEventListener('click', function () {
          var q = new URLSearchParams();
          if (c.account) q.set('account', c.account);
          q.set('peer', c.peer);
          location.hash = '#conversations?' + q.toString();
        });
        tbody.appendChild(tr);
      });
    });
  }

  function loadTranscript(params) {
    var peer = params.get('peer');
    if (!peer) {
      $('transcript').hidden = true;
      return Promise.resolve();
    }
    var account = params.get('account');
    return api('transcript', { account: account, peer: peer, limit: 500 }).then(function (r) {
      $('transcript-title').textContent = 'Transcript: ' + (account || '(any account)') + ' \u2194 ' + peer;
      var tbody = $('transcript-table').tBodies[0];
      clear(tbody);
      r.events.forEach(function (ev) { tbody.appendChild(eventRow(ev, ['time', 'direction', 'account', 'peer', 'kind', 'action', 'rule', 'text'])); });
      $('transcript').hidden = false;
      document.body.dataset.transcript = 'ready';
    });
  }

  // ---------- search ----------

  var search = { params: null, oldest: null };

  function runSearch(more) {
    var form = $('search-form');
    if (!more) {
      search.params = {};
      ['q', 'user', 'account', 'protocol', 'action'].forEach(function (n) { search.params[n] = form.elements[n].value.trim(); });
      search.oldest = null;
      clear($('search-table').tBodies[0]);
    }
    var p = Object.assign({ limit: 100 }, search.params);
    if (more && search.oldest !== null) p.until = String(search.oldest - 1);
    return api('events', p).then(function (r) {
      var tbody = $('search-table').tBodies[0];
      r.events.forEach(function (ev) { tbody.appendChild(eventRow(ev, FULL_COLS)); });
      if (r.events.length > 0) search.oldest = r.events[r.events.length - 1].time;
      $('search-more').hidden = r.events.length < 100;
    });
  }

  // ---------- files ----------

  function loadFiles() {
    return api('files', { limit: 200 }).then(function (r) {
      var tbody = $('files-table').tBodies[0];
      clear(tbody);
      r.files.forEach(function (f) {
        var tr = el('tr');
        [fmtTime(f.time), f.user, f.app && f.app !== f.protocol ? (f.protocol || '') + '/' + f.app : f.protocol || f.app, f.direction, f.account, f.peer, f.name, f.size].forEach(function (v) {
          tr.appendChild(el('td', v === null || v === undefined ? '' : v));
        });
        var shaCell = el('td', f.sha256 ? f.sha256.slice(0, 16) + '\u2026' : '', 'mono');
        if (f.sha256) shaCell.title = f.sha256;
        tr.appendChild(shaCell);
        tr.appendChild(verdictCell(f.action));
        var td = el('td');
        if (f.stored_path && f.sha256) {
          var a = el('a', 'download');
          a.href = '/api/files/' + encodeURIComponent(f.sha256);
          a.setAttribute('download', '');
          a.dataset.sha256 = f.sha256;
          td.appendChild(a);
        } else {
          td.textContent = 'metadata only';
        }
        tr.appendChild(td);
        tbody.appendChild(tr);
      });
    });
  }

  // ---------- policy ----------

  function loadPolicy() {
    return api('policy').then(function (p) {
      $('policy-file').textContent = p.file || '(embedded default policy)';
      $('policy-default').textContent = p.default;
      $('policy-istag').textContent = p.istag;
      $('policy-hash').textContent = p.hash;
      var tbody = $('policy-rules').tBodies[0];
      clear(tbody);
      p.rules.forEach(function (r, i) {
        var tr = el('tr');
        tr.appendChild(el('td', i + 1));
        tr.appendChild(el('td', r.id));
        var when = el('td');
        when.appendChild(el('pre', JSON.stringify(r.when, null, 1)));
        tr.appendChild(when);
        tr.appendChild(verdictCell(r.then));
        tr.appendChild(el('td', r.description || ''));
        tbody.appendChild(tr);
      });
    });
  }

  // ---------- routing ----------

  function route() {
    var hash = location.hash.replace(/^#/, '');
    var q = hash.indexOf('?');
    var name = q >= 0 ? hash.slice(0, q) : hash;
    var params = new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
    if (PAGES.indexOf(name) < 0) name = 'dashboard';
    PAGES.forEach(function (p) { $('page-' + p).hidden = p !== name; });
    document.querySelectorAll('nav a').forEach(function (a) { a.classList.toggle('active', a.dataset.page === name); });
    if (name === 'live') startLive(); else stopLive();
    showError('');
    var work;
    if (name === 'dashboard') work = loadDashboard();
    else if (name === 'conversations') work = loadConversations().then(function () { return loadTranscript(params); });
    else if (name === 'search') work = runSearch(false);
    else if (name === 'files') work = loadFiles();
    else if (name === 'policy') work = loadPolicy();
    if (work) {
      document.body.dataset.page = 'loading';
      work.then(function () { document.body.dataset.page = name; }, function (e) { showError(e.message); document.body.dataset.page = name + ':error'; });
    } else {
      document.body.dataset.page = name;
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('dash-window').addEventListener('change', function () { loadDashboard().catch(function (e) { showError(e.message); }); });
    $('dash-refresh').addEventListener('click', function () { loadDashboard().catch(function (e) { showError(e.message); }); });
    $('search-form').addEventListener('submit', function (e) {
      e.preventDefault();
      runSearch(false).catch(function (err) { showError(err.message); });
    });
    $('search-more').addEventListener('click', function () { runSearch(true).catch(function (err) { showError(err.message); }); });
    window.addEventListener('hashchange', route);
    route();
  });
})();
