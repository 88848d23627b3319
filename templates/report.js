// The timeline explorer. Reads the JSON block #timeline-data (format in
// src/report/explorer.rs), filters it in memory and shows one page of rows at a time.
// Every value from the evidence is written with textContent, never as markup.
(function () {
  'use strict';

  var errors = window.__chainlineErrors || [];
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function fmtInt(n) { return n.toLocaleString('en-US'); }

  function pad(n, w) { var s = String(n); while (s.length < w) s = '0' + s; return s; }

  // Microseconds since the epoch → "YYYY-MM-DD HH:MM:SS.ffffff" (UTC).
  function fmtTime(us) {
    if (isNaN(us)) return '(no time)';
    var ms = Math.floor(us / 1000);
    var iso = new Date(ms).toISOString();
    var frac = ((us % 1e6) + 1e6) % 1e6;
    return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '.' + pad(Math.round(frac), 6);
  }

  // "YYYY-MM-DD[ HH[:MM[:SS[.ffffff]]]]" read as UTC. For the end of a range the
  // unwritten parts are filled to the end of the unit given ("2022-09-13" = whole day).
  function parseTime(s, end) {
    s = s.trim();
    if (!s) return null;
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?)?\s*(?:Z|UTC)?$/i.exec(s);
    if (!m) return undefined;
    var ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
    if (isNaN(ms)) return undefined;
    var us = ms * 1000 + (m[7] ? +(m[7] + '000000').slice(0, 6) : 0);
    if (end) {
      var unit = m[7] ? 1 : m[6] ? 1e6 : m[5] ? 60e6 : m[4] ? 3600e6 : 86400e6;
      us += unit - 1;
    }
    return us;
  }

  // ---- data ----
  var tParse = performance.now();
  var P = JSON.parse($('timeline-data').textContent);
  var parseMs = performance.now() - tParse;
  var N = P.n;
  var ts = new Float64Array(N);
  (function () {
    var prev = 0;
    for (var r = 0; r < N; r++) {
      var d = P.t[r];
      if (d === null) { ts[r] = NaN; } else { prev += d; ts[r] = prev; }
    }
  })();

  // String columns are {d: repeated values, m: [index into d, or the value itself]}.
  // For the filters, source and kind are turned into {d: dictionary, i: indexes}.
  function dictCol(c) {
    var d = c.d.slice(), i = new Int32Array(c.m.length), extra = new Map();
    for (var r = 0; r < c.m.length; r++) {
      var x = c.m[r];
      if (typeof x === 'number') { i[r] = x; continue; }
      var k = extra.get(x);
      if (k === undefined) { k = d.length; d.push(x); extra.set(x, k); }
      i[r] = k;
    }
    return { d: d, i: i };
  }
  function getter(c) {
    var d = c.d, m = c.m;
    return function (r) { var x = m[r]; return typeof x === 'number' ? d[x] : x; };
  }
  var SRC = dictCol(P.source), KIND = dictCol(P.kind);
  var actor = getter(P.actor), target = getter(P.target), artifact = getter(P.artifact);
  var rtable = getter(P.rtable), rkey = getter(P.rkey);
  function record(r) { return rtable(r) + rkey(r); }
  var template = getter(P.message);
  var mraw = new Map(P.mraw);
  // Where each row's numbers start in P.nums: count the number markers row by row.
  var numAt = new Int32Array(N + 1);
  (function () {
    function count(t) { var n = 0; for (var k = t.indexOf('\u0003'); k >= 0; k = t.indexOf('\u0003', k + 1)) n++; return n; }
    var perDict = P.message.d.map(count);
    for (var r = 0; r < N; r++) {
      var x = P.message.m[r];
      numAt[r + 1] = numAt[r] + (typeof x === 'number' ? perDict[x] : count(x));
    }
  })();
  function message(r) {
    var raw = mraw.get(r);
    if (raw !== undefined) return raw;
    var t = template(r);
    if (!/[\u0001-\u0003]/.test(t)) return t;
    var tg = target(r), ac = actor(r), k = numAt[r];
    return t.replace(/[\u0001-\u0003]/g, function (m) {
      return m === '\u0001' ? tg : m === '\u0002' ? ac : String(P.nums[k++]);
    });
  }
  var tags = function (r) { return P.tags.d[P.tags.i[r]] || []; };
  var bytes = new Map(P.b.map(function (x) { return [x[0], [x[1], x[2]]]; }));
  var analystTags = new Map(P.at);
  var findingsOf = new Map(P.f);
  var colors = P.colors || {};
  var flagged = new Uint8Array(N);
  (function () {
    var tagFlag = P.tags.d.map(function (list) {
      return list.some(function (t) { return t.indexOf('ioc:') === 0 || t.indexOf('finding:') === 0; }) ? 1 : 0;
    });
    for (var r = 0; r < N; r++) {
      if (tagFlag[P.tags.i[r]] || analystTags.has(r) || findingsOf.has(r)) flagged[r] = 1;
    }
  })();

  // ---- search ----
  var lowerCache = new Map();
  // Lower-case copies of the composed columns, filled in the background after load
  // (in slices, so the page stays responsive) or at once when a search needs them.
  function lowered(name, get) {
    var c = lowerCache.get(name);
    if (!c) { c = { a: new Array(N), done: 0 }; lowerCache.set(name, c); }
    for (; c.done < N; c.done++) c.a[c.done] = get(c.done).toLowerCase();
    return c.a;
  }
  function warm(name, get) {
    var c = lowerCache.get(name);
    if (!c) { c = { a: new Array(N), done: 0 }; lowerCache.set(name, c); }
    var end = Math.min(N, c.done + 20000);
    for (; c.done < end; c.done++) c.a[c.done] = get(c.done).toLowerCase();
    return c.done < N;
  }
  function warmAll() {
    if (warm('message', message) || warm('record', record)) setTimeout(warmAll, 0);
  }
  function columnTest(c, q) {
    var d = c.d, m = c.m, hit = new Uint8Array(d.length);
    for (var j = 0; j < d.length; j++) if (d[j].toLowerCase().indexOf(q) >= 0) hit[j] = 1;
    return function (r) {
      var x = m[r];
      return typeof x === 'number' ? hit[x] === 1 : x.toLowerCase().indexOf(q) >= 0;
    };
  }
  function dictTest(c, q) {
    var hit = new Uint8Array(c.d.length), any = false;
    for (var j = 0; j < c.d.length; j++) if (c.d[j].toLowerCase().indexOf(q) >= 0) { hit[j] = 1; any = true; }
    var idx = c.i;
    return any ? function (r) { return hit[idx[r]] === 1; } : null;
  }
  function mapTest(map, q) {
    var rows = new Set();
    map.forEach(function (list, r) {
      if (list.some(function (t) { return t.toLowerCase().indexOf(q) >= 0; })) rows.add(r);
    });
    return rows.size ? function (r) { return rows.has(r); } : null;
  }
  function makeSearch(q) {
    var records = lowered('record', record);
    var tests = [
      columnTest(P.actor, q), columnTest(P.target, q), columnTest(P.artifact, q),
      function (r) { return records[r].indexOf(q) >= 0; },
      dictTest(SRC, q), dictTest(KIND, q),
      mapTest(analystTags, q), mapTest(findingsOf, q)
    ];
    var tagHit = P.tags.d.map(function (list) { return list.join('\n').toLowerCase().indexOf(q) >= 0 ? 1 : 0; });
    if (tagHit.indexOf(1) >= 0) tests.push(function (r) { return tagHit[P.tags.i[r]] === 1; });
    var msgs = lowered('message', message);
    tests.push(function (r) { return msgs[r].indexOf(q) >= 0; });
    tests = tests.filter(Boolean);
    return function (r) {
      for (var k = 0; k < tests.length; k++) if (tests[k](r)) return true;
      return false;
    };
  }

  // ---- state ----
  var state = { q: '', kind: -1, sources: new Uint8Array(SRC.d.length).fill(1), from: null, to: null, flagged: false, page: 0, size: 100, desc: false };
  var matches = new Int32Array(N), nMatches = 0;
  var body = $('rows-body');

  function apply() {
    var t0 = performance.now();
    var q = state.q.trim().toLowerCase();
    var test = q ? makeSearch(q) : null;
    var on = state.sources, si = SRC.i, ki = KIND.i, kind = state.kind;
    var from = state.from, to = state.to, onlyFlagged = state.flagged;
    var k = 0;
    for (var r = 0; r < N; r++) {
      if (!on[si[r]]) continue;
      if (kind >= 0 && ki[r] !== kind) continue;
      if (from !== null && !(ts[r] >= from)) continue;
      if (to !== null && !(ts[r] <= to)) continue;
      if (onlyFlagged && !flagged[r]) continue;
      if (test && !test(r)) continue;
      matches[k++] = r;
    }
    nMatches = k;
    state.page = 0;
    render();
    return performance.now() - t0;
  }

  function tagSpan(text, cls) { return el('span', 'tag' + (cls ? ' ' + cls : ''), text); }

  function rowEl(r) {
    var tr = document.createElement('tr');
    tr.appendChild(el('td', 'time', fmtTime(ts[r])));
    var s = el('td');
    var name = SRC.d[SRC.i[r]];
    var dot = el('span', 'dot');
    dot.style.background = colors[name] || '#777';
    s.appendChild(dot);
    s.appendChild(el('span', 'src', name));
    s.appendChild(el('div', 'sub', KIND.d[KIND.i[r]]));
    tr.appendChild(s);
    var who = el('td', 'path', actor(r));
    if (target(r)) who.appendChild(el('div', 'sub', '\u2192 ' + target(r)));
    tr.appendChild(who);
    var m = el('td', 'msg', message(r));
    var b = bytes.get(r);
    if (b) {
      var parts = [];
      if (b[0] !== null) parts.push('in ' + fmtInt(b[0]) + ' B');
      if (b[1] !== null) parts.push('out ' + fmtInt(b[1]) + ' B');
      m.appendChild(el('div', 'muted', parts.join(' · ')));
    }
    tr.appendChild(m);
    var ev = el('td', 'path');
    ev.appendChild(el('span', 'artifact', artifact(r)));
    ev.appendChild(document.createElement('br'));
    ev.appendChild(el('code', null, record(r)));
    tr.appendChild(ev);
    var tg = el('td');
    (findingsOf.get(r) || []).forEach(function (f) { tg.appendChild(tagSpan(f, 'fnd')); });
    tags(r).forEach(function (t) { tg.appendChild(tagSpan(t, t.indexOf('ioc:') === 0 ? 'ioc' : null)); });
    (analystTags.get(r) || []).forEach(function (t) { tg.appendChild(tagSpan(t, 'analyst')); });
    tr.appendChild(tg);
    if (findingsOf.has(r)) tr.className = 'is-evidence';
    return tr;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(nMatches / state.size));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var start = state.page * state.size, end = Math.min(nMatches, start + state.size);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) frag.appendChild(rowEl(state.desc ? matches[nMatches - 1 - k] : matches[k]));
    body.replaceChildren(frag);
    $('status').textContent = nMatches === 0
      ? 'No row matches these filters (' + fmtInt(N) + ' rows embedded).'
      : 'Rows ' + fmtInt(start + 1) + '–' + fmtInt(end) + ' of ' + fmtInt(nMatches) + ' matching (' + fmtInt(N) + ' embedded).';
    $('p-info').textContent = 'page ' + fmtInt(state.page + 1) + ' of ' + fmtInt(pages);
    $('p-first').disabled = $('p-prev').disabled = state.page === 0;
    $('p-next').disabled = $('p-last').disabled = state.page >= pages - 1;
  }

  // ---- controls ----
  var counts = new Array(SRC.d.length).fill(0);
  for (var r0 = 0; r0 < N; r0++) counts[SRC.i[r0]]++;
  var chips = [];
  function syncChips() {
    chips.forEach(function (c, j) { c.box.checked = !!state.sources[j]; c.label.classList.toggle('off', !state.sources[j]); });
  }
  (function () {
    var box = $('f-sources');
    var all = el('button', null, 'all sources');
    all.type = 'button';
    all.addEventListener('click', function () { state.sources.fill(1); syncChips(); apply(); });
    box.appendChild(all);
    var order = SRC.d.map(function (_, j) { return j; }).sort(function (a, b) { return counts[b] - counts[a] || (SRC.d[a] < SRC.d[b] ? -1 : 1); });
    order.forEach(function (j) {
      var label = el('label');
      label.title = 'Click to show or hide; double-click to show only this source';
      var cb = el('input');
      cb.type = 'checkbox';
      cb.checked = true;
      cb.addEventListener('change', function () { state.sources[j] = cb.checked ? 1 : 0; syncChips(); apply(); });
      label.addEventListener('dblclick', function (e) { e.preventDefault(); state.sources.fill(0); state.sources[j] = 1; syncChips(); apply(); });
      var dot = el('span', 'dot');
      dot.style.background = colors[SRC.d[j]] || '#777';
      label.appendChild(cb);
      label.appendChild(dot);
      label.appendChild(document.createTextNode(SRC.d[j] + ' '));
      label.appendChild(el('span', 'count', fmtInt(counts[j])));
      box.appendChild(label);
      chips[j] = { box: cb, label: label };
    });
    var kindCounts = new Array(KIND.d.length).fill(0);
    for (var r = 0; r < N; r++) kindCounts[KIND.i[r]]++;
    var sel = $('f-kind');
    KIND.d.map(function (_, j) { return j; }).sort(function (a, b) { return KIND.d[a] < KIND.d[b] ? -1 : 1; }).forEach(function (j) {
      var o = el('option', null, KIND.d[j] + ' (' + fmtInt(kindCounts[j]) + ')');
      o.value = String(j);
      sel.appendChild(o);
    });
  })();

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(apply, N > 100000 ? 250 : 80);
  }
  function readRange() {
    var f = parseTime($('f-from').value, false), t = parseTime($('f-to').value, true);
    $('f-from').classList.toggle('bad', f === undefined);
    $('f-to').classList.toggle('bad', t === undefined);
    state.from = f === undefined ? null : f;
    state.to = t === undefined ? null : t;
  }
  $('f-q').addEventListener('input', function () { state.q = this.value; later(); });
  $('f-kind').addEventListener('change', function () { state.kind = this.value === '' ? -1 : +this.value; apply(); });
  $('f-from').addEventListener('input', function () { readRange(); later(); });
  $('f-to').addEventListener('input', function () { readRange(); later(); });
  $('f-flagged').addEventListener('change', function () { state.flagged = this.checked; apply(); });
  function reset() {
    $('f-q').value = ''; $('f-kind').value = ''; $('f-from').value = ''; $('f-to').value = ''; $('f-flagged').checked = false;
    state.q = ''; state.kind = -1; state.from = null; state.to = null; state.flagged = false; state.sources.fill(1);
    readRange();
    syncChips();
  }
  $('f-reset').addEventListener('click', function () { reset(); apply(); });
  $('p-first').addEventListener('click', function () { state.page = 0; render(); });
  $('p-prev').addEventListener('click', function () { state.page--; render(); });
  $('p-next').addEventListener('click', function () { state.page++; render(); });
  $('p-last').addEventListener('click', function () { state.page = Infinity; render(); });
  $('p-size').addEventListener('change', function () { state.size = +this.value; state.page = 0; render(); });
  $('p-order').addEventListener('change', function () { state.desc = this.value === 'desc'; state.page = 0; render(); });
  Array.prototype.forEach.call(document.querySelectorAll('button.to-explorer'), function (b) {
    b.addEventListener('click', function () {
      reset();
      $('f-from').value = fmtTime(+b.dataset.from);
      $('f-to').value = fmtTime(+b.dataset.to);
      readRange();
      apply();
      $('explorer').scrollIntoView();
    });
  });

  // ---- self-test (#selftest&source=…&q=…&text=…) ----
  function selftest() {
    var params = new URLSearchParams(location.hash.replace(/^#selftest&?/, ''));
    // Times in ms: parsing the data block, data to first rows, and page open to first rows.
    var v = { rows: N, total: P.total, parse_ms: Math.round(parseMs), ready_ms: Math.round(window.__chainlineReadyMs),
      since_navigation_ms: Math.round(performance.now()) };
    reset();
    v.all = { matches: nMatches, rendered: body.rows.length };

    var src = params.get('source') || SRC.d[0];
    var j = SRC.d.indexOf(src), expected = 0;
    for (var r = 0; r < N; r++) if (SRC.d[SRC.i[r]] === src) expected++;
    state.sources.fill(0);
    if (j >= 0) state.sources[j] = 1;
    syncChips();
    var ms = apply();
    var shown = Array.prototype.map.call(body.rows, function (tr) { return tr.cells[1].querySelector('.src').textContent; });
    v.source = { name: src, expected: expected, matches: nMatches, rendered: body.rows.length, ms: Math.round(ms),
      all_rows_match: shown.every(function (s) { return s === src; }) };

    var q = params.get('q');
    if (q) {
      reset();
      $('f-q').value = q;
      state.q = q;
      ms = apply();
      var again = apply();
      v.search = { q: q, matches: nMatches, rendered: body.rows.length, ms: Math.round(ms), ms_again: Math.round(again),
        messages: Array.prototype.slice.call(body.rows, 0, 5).map(function (tr) { return tr.cells[3].firstChild ? tr.cells[3].firstChild.textContent : ''; }) };
    }
    // Leave the search on screen a moment: anything that would load or run
    // asynchronously from a row (an image error handler, a blocked request) does it now.
    setTimeout(function () {
      var needle = params.get('text');
      if (needle) {
        v.text = { needle: needle, cells: Array.prototype.filter.call(document.querySelectorAll('td'), function (td) { return td.textContent.indexOf(needle) >= 0; }).length };
      }
      reset();
      apply();
      v.pwned = typeof window.__pwned !== 'undefined';
      v.errors = errors.slice();
      v.ok = v.errors.length === 0 && !v.pwned && v.source.matches === expected && v.source.all_rows_match;
      var out = $('selftest');
      out.hidden = false;
      out.textContent = JSON.stringify(v);
    }, 500);
  }

  apply();
  window.__chainlineReadyMs = performance.now() - tParse;
  if (location.hash.indexOf('#selftest') === 0) {
    selftest();
  } else {
    setTimeout(warmAll, 200);
  }
})();
