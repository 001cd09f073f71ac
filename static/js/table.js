// table.js: client-side sorting of table[data-sortable] and filtering with [data-filter] inputs.
//
// Sorting: a click (or Enter/Space) on a header cell sorts the first tbody by that column, ascending then
// descending; aria-sort on the header shows the direction (CSS draws the arrow). A cell's data-sort-value, when
// present, is the key instead of its text; a header with data-sort="number|text" forces the comparison, otherwise
// a column whose keys are all numbers sorts numerically. Headers with data-nosort are left alone.
//
// Filtering: each input, select or checkbox with data-filter="NAME" filters the rows of the table whose id is its
// data-filter-table (default: the first table[data-sortable] of the page). Rows that do not match get hidden.
//   text      the row's text contains the input's words (case-insensitive, all words)
//   quality   "good": no q-* class; "bad": q-bad; any other value V: the class q-V
//   area      the row's data-area equals the value or lies below it ("north" matches "north/feeder1")
//   other     the row's data-NAME equals the value
// An empty value matches everything. [data-filter-count] elements show "N of M".

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function initTables(root = document) {
  for (const table of root.querySelectorAll('table[data-sortable]')) sortable(table);
  const filters = [...root.querySelectorAll('[data-filter]')];
  const tables = new Set();
  for (const input of filters) {
    const table = filterTable(input);
    if (!table) continue;
    tables.add(table);
    const ev = input.matches('input[type="text"], input[type="search"], input:not([type])') ? 'input' : 'change';
    input.addEventListener(ev, () => applyFilters(table));
  }
  for (const table of tables) applyFilters(table);
  // Rows change class with live quality: re-filter, at most every 500 ms.
  let pending = 0;
  document.addEventListener('hmi:points', () => {
    if (pending || tables.size === 0) return;
    pending = setTimeout(() => {
      pending = 0;
      for (const table of tables) applyFilters(table);
    }, 500);
  });
  // A script replaced the body of a table (alarm list refresh): sort and filter it again.
  document.addEventListener('hmi:table-changed', (ev) => {
    const table = ev.target;
    if (!(table instanceof HTMLTableElement)) return;
    resort(table);
    if (tables.has(table)) applyFilters(table);
  });
}

function sortable(table) {
  const head = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : null;
  if (!head) return;
  [...head.cells].forEach((th, col) => {
    if (th.hasAttribute('data-nosort')) return;
    th.classList.add('sortable');
    th.tabIndex = 0;
    if (!th.hasAttribute('aria-sort')) th.setAttribute('aria-sort', 'none');
    const go = () => {
      const dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      for (const other of head.cells) {
        if (other.hasAttribute('aria-sort')) other.setAttribute('aria-sort', 'none');
      }
      th.setAttribute('aria-sort', dir);
      sortBy(table, col, dir, th.getAttribute('data-sort'));
    };
    th.addEventListener('click', go);
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        go();
      }
    });
  });
}

/** Sorts the table again by its current sort column (after its rows changed). */
export function resort(table) {
  const head = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : null;
  if (!head) return;
  [...head.cells].forEach((th, col) => {
    const dir = th.getAttribute('aria-sort');
    if (dir === 'ascending' || dir === 'descending') sortBy(table, col, dir, th.getAttribute('data-sort'));
  });
}

function key(row, col) {
  const cell = row.cells[col];
  if (!cell) return '';
  const v = cell.getAttribute('data-sort-value');
  return (v !== null ? v : cell.textContent).trim();
}

function sortBy(table, col, dir, type) {
  const body = table.tBodies[0];
  if (!body) return;
  const rows = [...body.rows].map((row, i) => ({ row, i, k: key(row, col) }));
  // Numeric: forced by data-sort="number" (the leading number of each key: "20.4 kV", "1 / 2"), or when every
  // key is a number.
  const numeric =
    type === 'number' || (type !== 'text' && rows.every((r) => r.k === '' || Number.isFinite(Number(r.k))));
  const asNumber = (k) => {
    const n = parseFloat(k);
    return Number.isFinite(n) ? n : -Infinity;
  };
  const sign = dir === 'descending' ? -1 : 1;
  rows.sort((a, b) => {
    let c;
    if (numeric) {
      const x = asNumber(a.k);
      const y = asNumber(b.k);
      c = x < y ? -1 : x > y ? 1 : 0;
    } else {
      c = collator.compare(a.k, b.k);
    }
    return c * sign || a.i - b.i;
  });
  body.append(...rows.map((r) => r.row));
}

function filterTable(input) {
  const id = input.getAttribute('data-filter-table');
  if (id) return document.getElementById(id);
  return document.querySelector('table[data-sortable]');
}

function filterValue(input) {
  if (input.type === 'checkbox') return input.checked ? input.value || 'on' : '';
  return input.value.trim();
}

/** Hides the rows of table that do not match its filters; returns the number shown. */
export function applyFilters(table) {
  const active = [];
  for (const input of document.querySelectorAll('[data-filter]')) {
    if (filterTable(input) !== table) continue;
    const v = filterValue(input);
    if (v !== '') active.push([input.getAttribute('data-filter'), v]);
  }
  let shown = 0;
  let total = 0;
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      total++;
      const ok = active.every(([name, v]) => matches(row, name, v));
      row.hidden = !ok;
      if (ok) shown++;
    }
  }
  for (const el of document.querySelectorAll('[data-filter-count]')) {
    const t = el.getAttribute('data-filter-count');
    if (t && document.getElementById(t) !== table) continue;
    el.textContent = shown === total ? String(total) : shown + ' of ' + total;
  }
  return shown;
}

function matches(row, name, v) {
  switch (name) {
    case 'text': {
      const text = row.textContent.toLowerCase();
      return v
        .toLowerCase()
        .split(/\s+/)
        .every((w) => text.includes(w));
    }
    case 'quality': {
      // The q-* classes sit on the data-point element: the row itself or an element in it.
      const el = row.matches('[data-point]') ? row : row.querySelector('[data-point]') || row;
      const cl = el.classList;
      if (v === 'good') return ![...cl].some((c) => c.startsWith('q-'));
      if (v === 'bad') return cl.contains('q-bad');
      return cl.contains('q-' + v);
    }
    case 'area': {
      const a = row.getAttribute('data-area') || '';
      return a === v || a.startsWith(v.endsWith('/') ? v : v + '/');
    }
    default:
      return row.getAttribute('data-' + name) === v;
  }
}
