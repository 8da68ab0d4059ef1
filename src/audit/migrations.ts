// SQLite schema, versioned by PRAGMA user_version: migration i brings the
// database from version i to i + 1. Append only; never edit a shipped step.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    run TEXT NOT NULL,
    conn TEXT NOT NULL,
    door TEXT NOT NULL,
    client_ip TEXT,
    user TEXT,
    protocol TEXT,
    app TEXT,
    destination TEXT,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run, conn)
  ) WITHOUT ROWID;
  CREATE INDEX sessions_last_seen ON sessions(last_seen);

  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    time INTEGER NOT NULL,
    run TEXT NOT NULL,
    conn TEXT NOT NULL,
    door TEXT NOT NULL,
    client_ip TEXT,
    user TEXT,
    groups TEXT,
    protocol TEXT,
    app TEXT,
    direction TEXT,
    account TEXT,
    peer TEXT,
    kind TEXT NOT NULL,
    text TEXT,
    file_name TEXT,
    file_size INTEGER,
    file_sha256 TEXT,
    url TEXT,
    host TEXT,
    method TEXT,
    destination TEXT,
    action TEXT,
    rule TEXT,
    detail TEXT
  );
  CREATE INDEX events_time ON events(time);
  CREATE INDEX events_user_time ON events(user, time);
  CREATE INDEX events_account ON events(account);
  CREATE INDEX events_session ON events(run, conn);
  CREATE INDEX events_sha ON events(file_sha256) WHERE file_sha256 IS NOT NULL;

  CREATE TABLE files (
    sha256 TEXT PRIMARY KEY,
    name TEXT,
    size INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    stored_path TEXT
  );

  -- External-content FTS over events.text; the triggers keep it in step in
  -- the same transaction as the row change.
  CREATE VIRTUAL TABLE events_fts USING fts5(text, content='events', content_rowid='seq');
  CREATE TRIGGER events_fts_ai AFTER INSERT ON events WHEN new.text IS NOT NULL BEGIN
    INSERT INTO events_fts(rowid, text) VALUES (new.seq, new.text);
  END;
  CREATE TRIGGER events_fts_ad AFTER DELETE ON events WHEN old.text IS NOT NULL BEGIN
    INSERT INTO events_fts(events_fts, rowid, text) VALUES ('delete', old.seq, old.text);
  END;
  `,
  // 2. The writer inserts each FTS row itself (sqlite-write.ts) instead of
  // an AFTER INSERT trigger: a statement that fires a trigger runs in a
  // statement sub-transaction with its own journal, which more than doubled
  // the cost of storing an event (measured 28 -> 15 us CPU per 1 KiB
  // message). The delete trigger stays: retention deletes are rare.
  // events_account goes: no query can use it (the account filter is
  // `account = ? OR peer = ?`, and peer has no index), yet every insert paid it.
  `
  DROP TRIGGER events_fts_ai;
  DROP INDEX events_account;
  `,
  // 3. Cheaper to record. Measured A/B in the writer thread, with the text
  // also bound as bytes (sqlite-write.ts): a 1 KiB web IM event 11.3 -> 8.7
  // us CPU, 900 characters of prose 15.1 -> 11.9 us; short chat messages
  // (bench/store-main.ts) 43k -> 72k events/s.
  //  - the text index keeps which events hold a word, not where
  //    (detail=none) nor each text's length (columnsize=0: only ranking
  //    needs it, and searches order by time): about 2.5 us per event of
  //    prose, 10% less space. Phrases are checked on the candidates
  //    instead (fts.ts). The index is rebuilt from the stored texts once
  //    (about 10 s per million events).
  //  - events_session goes: only retention's session cleanup used it, and
  //    that now asks for the oldest event time instead (sqlite-write.ts).
  //  - events_user_time holds only events with a user: web traffic without
  //    proxy authentication no longer pays for an index of NULLs, and
  //    `user = ?` still uses it.
  `
  DROP TRIGGER events_fts_ad;
  DROP TABLE events_fts;
  CREATE VIRTUAL TABLE events_fts USING fts5(text, content='events', content_rowid='seq', detail=none, columnsize=0);
  INSERT INTO events_fts(events_fts) VALUES ('rebuild');
  CREATE TRIGGER events_fts_ad AFTER DELETE ON events WHEN old.text IS NOT NULL BEGIN
    INSERT INTO events_fts(events_fts, rowid, text) VALUES ('delete', old.seq, old.text);
  END;
  DROP INDEX events_session;
  DROP INDEX events_user_time;
  CREATE INDEX events_user_time ON events(user, time) WHERE user IS NOT NULL;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
