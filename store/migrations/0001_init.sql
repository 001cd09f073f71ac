-- 0001: the first schema. Times are Unix nanoseconds (INTEGER) unless said otherwise; a zero time is NULL where a
-- column may be unset. Every table is STRICT.

CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,           -- hashed by the caller; the store keeps the string
	areas         TEXT NOT NULL DEFAULT '[]', -- JSON array of area paths
	created       INTEGER NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
	id_hash   TEXT PRIMARY KEY,             -- a hash of the cookie's session ID, never the ID itself
	user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE ON UPDATE CASCADE,
	csrf      TEXT NOT NULL,
	created   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	client    TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_name);
CREATE INDEX sessions_last_seen ON sessions(last_seen);

-- The event journal. t is the source time when the device gave one, else the receive time; newest first is
-- ORDER BY t DESC, id DESC, which every index below serves (an index holds the rowid after its columns).
CREATE TABLE events (
	id        INTEGER PRIMARY KEY,
	t         INTEGER NOT NULL,
	recv      INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	point     TEXT NOT NULL DEFAULT '',
	area      TEXT NOT NULL DEFAULT '',
	link      TEXT NOT NULL DEFAULT '',
	user_name TEXT NOT NULL DEFAULT '',
	message   TEXT NOT NULL DEFAULT '',
	value     REAL,
	state     TEXT NOT NULL DEFAULT '',
	quality   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_t ON events(t);
CREATE INDEX events_point_t ON events(point, t);
CREATE INDEX events_kind_t ON events(kind, t);
CREATE INDEX events_area_t ON events(area, t);

-- The latest state of every alarm (upserted by each transition), and every transition.
CREATE TABLE alarm_states (
	id            TEXT PRIMARY KEY,
	source        TEXT NOT NULL,
	point         TEXT NOT NULL,
	link          TEXT NOT NULL,
	area          TEXT NOT NULL,
	priority      INTEGER NOT NULL,
	state         TEXT NOT NULL,
	underlying    TEXT NOT NULL,
	message       TEXT NOT NULL,
	value         REAL,
	raised_at     INTEGER,
	cleared_at    INTEGER,
	acked_by      TEXT NOT NULL,
	acked_at      INTEGER,
	comment       TEXT NOT NULL,
	shelved_by    TEXT NOT NULL,
	shelved_until INTEGER,
	updated       INTEGER NOT NULL
) STRICT;

CREATE TABLE alarm_transitions (
	id         INTEGER PRIMARY KEY,
	alarm_id   TEXT NOT NULL REFERENCES alarm_states(id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	from_state TEXT NOT NULL,
	to_state   TEXT NOT NULL,
	underlying TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	action     TEXT NOT NULL,
	comment    TEXT NOT NULL,
	priority   INTEGER NOT NULL,
	value      REAL,
	message    TEXT NOT NULL
) STRICT;
CREATE INDEX alarm_transitions_alarm ON alarm_transitions(alarm_id, at);

-- The command audit trail, a hash chain: hash = SHA-256(canonical encoding of the row || prev_hash). Rows are
-- numbered 1, 2, 3, ... with no gap (no AUTOINCREMENT: the store assigns the next ID itself). audit_head records the
-- end of the chain, so that rows deleted at the end are noticed.
CREATE TABLE audit (
	id         INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL,
	command_id TEXT NOT NULL,
	point      TEXT NOT NULL,
	link       TEXT NOT NULL,
	step       TEXT NOT NULL,
	value      REAL,
	state      TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	session    TEXT NOT NULL,
	client     TEXT NOT NULL,
	cause      INTEGER NOT NULL,
	negative   INTEGER NOT NULL,
	latency_ms REAL,
	detail     TEXT NOT NULL,
	prev_hash  BLOB NOT NULL,
	hash       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_command ON audit(command_id);
CREATE INDEX audit_point ON audit(point);
CREATE INDEX audit_at ON audit(at);

CREATE TABLE audit_head (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	last_id INTEGER NOT NULL,
	hash    BLOB NOT NULL
) STRICT;

-- History: raw samples (t in Unix milliseconds), and roll-ups per minute and per hour that a trigger keeps up to
-- date, so that a bucket query reads at most a few thousand rows whatever the span.
CREATE TABLE history_points (
	id    INTEGER PRIMARY KEY,
	point TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE history_samples (
	point_id INTEGER NOT NULL,
	t        INTEGER NOT NULL,
	v        REAL NOT NULL,
	PRIMARY KEY (point_id, t)
) STRICT, WITHOUT ROWID;

-- start: the first millisecond of the minute or hour; mn, mx, sm, n: minimum, maximum, sum and count of its
-- samples; lt, lv: time and value of its latest sample.
CREATE TABLE history_1m (
	point_id INTEGER NOT NULL,
	start    INTEGER NOT NULL,
	mn       REAL NOT NULL,
	mx       REAL NOT NULL,
	sm       REAL NOT NULL,
	n        INTEGER NOT NULL,
	lt       INTEGER NOT NULL,
	lv       REAL NOT NULL,
	PRIMARY KEY (point_id, start)
) STRICT, WITHOUT ROWID;

CREATE TABLE history_1h (
	point_id INTEGER NOT NULL,
	start    INTEGER NOT NULL,
	mn       REAL NOT NULL,
	mx       REAL NOT NULL,
	sm       REAL NOT NULL,
	n        INTEGER NOT NULL,
	lt       INTEGER NOT NULL,
	lv       REAL NOT NULL,
	PRIMARY KEY (point_id, start)
) STRICT, WITHOUT ROWID;

-- Floor division, so that times before 1970 fall in the right minute too.
CREATE TRIGGER history_rollup AFTER INSERT ON history_samples
BEGIN
	INSERT INTO history_1m (point_id, start, mn, mx, sm, n, lt, lv)
	VALUES (NEW.point_id, NEW.t - ((NEW.t % 60000) + 60000) % 60000, NEW.v, NEW.v, NEW.v, 1, NEW.t, NEW.v)
	ON CONFLICT (point_id, start) DO UPDATE SET
		mn = min(mn, excluded.mn),
		mx = max(mx, excluded.mx),
		sm = sm + excluded.sm,
		n = n + 1,
		lv = CASE WHEN excluded.lt >= lt THEN excluded.lv ELSE lv END,
		lt = max(lt, excluded.lt);
	INSERT INTO history_1h (point_id, start, mn, mx, sm, n, lt, lv)
	VALUES (NEW.point_id, NEW.t - ((NEW.t % 3600000) + 3600000) % 3600000, NEW.v, NEW.v, NEW.v, 1, NEW.t, NEW.v)
	ON CONFLICT (point_id, start) DO UPDATE SET
		mn = min(mn, excluded.mn),
		mx = max(mx, excluded.mx),
		sm = sm + excluded.sm,
		n = n + 1,
		lv = CASE WHEN excluded.lt >= lt THEN excluded.lv ELSE lv END,
		lt = max(lt, excluded.lt);
END;
