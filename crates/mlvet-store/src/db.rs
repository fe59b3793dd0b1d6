//! The thin layer under the store: one SQL dialect subset, two backends. Statements are written
//! once with PostgreSQL's `$1` placeholders; on SQLite they are rewritten to `?1` (which binds
//! by number, as `$1` does on PostgreSQL). Values are integers, text, bytes or NULL; every
//! integer column is `BIGINT` on PostgreSQL so that both backends decode to `i64`.

use std::path::Path;
use std::sync::Mutex;

use crate::StoreError;

/// A parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
    NullInt,
    NullText,
}

impl From<i64> for P<'_> {
    fn from(value: i64) -> Self {
        P::Int(value)
    }
}

impl<'a> From<&'a str> for P<'a> {
    fn from(value: &'a str) -> Self {
        P::Text(value)
    }
}

impl<'a> From<&'a String> for P<'a> {
    fn from(value: &'a String) -> Self {
        P::Text(value)
    }
}

impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(P::NullText, P::Text)
    }
}

impl From<Option<i64>> for P<'_> {
    fn from(value: Option<i64>) -> Self {
        value.map_or(P::NullInt, P::Int)
    }
}

/// A decoded column.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Null,
}

/// One result row with typed accessors (a type mismatch is a [`StoreError::Decode`]).
#[derive(Debug, Clone)]
pub struct Row(pub Vec<V>);

impl Row {
    fn at(&self, index: usize) -> Result<&V, StoreError> {
        self.0
            .get(index)
            .ok_or_else(|| StoreError::Decode(format!("no column {index}")))
    }

    pub fn int(&self, index: usize) -> Result<i64, StoreError> {
        match self.at(index)? {
            V::Int(value) => Ok(*value),
            other => Err(StoreError::Decode(format!(
                "column {index}: expected an integer, found {other:?}"
            ))),
        }
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.at(index)? {
            V::Null => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        match self.at(index)? {
            V::Text(value) => Ok(value.clone()),
            other => Err(StoreError::Decode(format!(
                "column {index}: expected text, found {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.at(index)? {
            V::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    pub fn bytes(&self, index: usize) -> Result<Vec<u8>, StoreError> {
        match self.at(index)? {
            V::Bytes(value) => Ok(value.clone()),
            V::Null => Ok(Vec::new()),
            other => Err(StoreError::Decode(format!(
                "column {index}: expected bytes, found {other:?}"
            ))),
        }
    }
}

/// `$1` → `?1` for SQLite. Statements are the store's own (no `$` inside string literals).
pub fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A transaction on either backend.
pub enum Tx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(postgres::Transaction<'c>),
}

impl Tx<'_> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// Runs a statement, returns the number of rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(&sqlite_sql(sql))?;
                let changed = statement
                    .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                Ok(u64::try_from(changed).unwrap_or(u64::MAX))
            }
            Tx::Postgres(tx) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| &**b).collect();
                Ok(tx.execute(sql, &refs)?)
            }
        }
    }

    /// Runs a statement that returns rows.
    pub fn query(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(&sqlite_sql(sql))?;
                let columns = statement.column_count();
                let mut rows =
                    statement.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for index in 0..columns {
                        values.push(match row.get_ref(index)? {
                            rusqlite::types::ValueRef::Null => V::Null,
                            rusqlite::types::ValueRef::Integer(i) => V::Int(i),
                            // The store keeps no floats; a real is shown as text rather than lost.
                            rusqlite::types::ValueRef::Real(r) => V::Text(r.to_string()),
                            rusqlite::types::ValueRef::Text(t) => {
                                V::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => V::Bytes(b.to_vec()),
                        });
                    }
                    out.push(Row(values));
                }
                Ok(out)
            }
            Tx::Postgres(tx) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| &**b).collect();
                let rows = tx.query(sql, &refs)?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// The first row, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[P<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Exactly one row.
    pub fn query_one(&mut self, sql: &str, params: &[P<'_>]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Decode("the statement returned no row".to_string()))
    }

    /// Several statements without parameters (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            Tx::Postgres(tx) => Ok(tx.batch_execute(sql)?),
        }
    }

    fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.commit()?),
            Tx::Postgres(tx) => Ok(tx.commit()?),
        }
    }
}

fn sqlite_value(param: &P<'_>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match param {
        P::Int(i) => Value::Integer(*i),
        P::Text(t) => Value::Text((*t).to_string()),
        P::Bytes(b) => Value::Blob(b.to_vec()),
        P::NullInt | P::NullText => Value::Null,
    }
}

fn pg_params(params: &[P<'_>]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|param| -> Box<dyn postgres::types::ToSql + Sync> {
            match param {
                P::Int(i) => Box::new(*i),
                P::Text(t) => Box::new((*t).to_string()),
                P::Bytes(b) => Box::new(b.to_vec()),
                P::NullInt => Box::new(None::<i64>),
                P::NullText => Box::new(None::<String>),
            }
        })
        .collect()
}

fn pg_row(row: &postgres::Row) -> Result<Row, StoreError> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(index)?.map(V::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(index)?
                .map(|i| V::Int(i64::from(i)))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(index)?
                .map(|i| V::Int(i64::from(i)))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(index)?
                .map(|b| V::Int(i64::from(b)))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(index)?.map(V::Bytes)
        } else {
            row.try_get::<_, Option<String>>(index)?.map(V::Text)
        };
        values.push(value.unwrap_or(V::Null));
    }
    Ok(Row(values))
}

/// Connections kept for reuse; a connection is made when none is idle.
pub struct Pool<C: Send + 'static> {
    idle: Mutex<Vec<C>>,
    max_idle: usize,
}

/// The synchronous PostgreSQL client closes its connection by blocking on its own runtime, which
/// panics inside an async context: the last `Arc<App>` can be dropped on a server worker thread.
/// Idle connections are therefore closed on a thread of their own.
impl<C: Send + 'static> Drop for Pool<C> {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if idle.is_empty() {
            return;
        }
        // A failed spawn drops the connections here, as before.
        if let Ok(closer) = std::thread::Builder::new()
            .name("mlvet-store-close".into())
            .spawn(move || drop(idle))
        {
            let _ = closer.join();
        }
    }
}

impl<C: Send + 'static> Pool<C> {
    fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    fn take(&self) -> Option<C> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, connection: C) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }
}

/// How long an SQLite writer of this process waits for its turn (the same bound as SQLite's
/// busy timeout, which still applies between processes).
const SQLITE_TURN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// First come, first served among this process's SQLite writers.
///
/// SQLite admits one writer at a time and makes the others retry by sleeping (its busy
/// handler), so a thread that commits and begins again at once (the generation watcher's
/// batches, a stream of uploads) can keep the lock for as long as it likes while the others
/// sleep through their whole busy timeout and fail with `database is locked`. Writers of one
/// process queue here instead and are served in order; only then do they begin.
pub struct WriteTurns {
    state: Mutex<TurnState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct TurnState {
    /// A writer holds the turn.
    busy: bool,
    /// Waiting writers by ticket, oldest first.
    queue: std::collections::VecDeque<u64>,
    next_ticket: u64,
}

/// A writer's turn; the next writer is served when it is dropped.
pub struct Turn<'a> {
    turns: &'a WriteTurns,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.lock().busy = false;
        self.turns.changed.notify_all();
    }
}

impl WriteTurns {
    fn new() -> WriteTurns {
        WriteTurns {
            state: Mutex::new(TurnState::default()),
            changed: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TurnState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for this caller's turn, at most `timeout`; `None` when it did not come (the
    /// caller then leaves the queue).
    fn wait(&self, timeout: std::time::Duration) -> Option<Turn<'_>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push_back(ticket);
        loop {
            if !state.busy && state.queue.front() == Some(&ticket) {
                state.queue.pop_front();
                state.busy = true;
                return Some(Turn { turns: self });
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                state.queue.retain(|t| *t != ticket);
                drop(state);
                // The writer behind may be first now.
                self.changed.notify_all();
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// The backend and its connections.
pub enum Backend {
    Sqlite {
        path: std::path::PathBuf,
        pool: Pool<rusqlite::Connection>,
        writers: WriteTurns,
    },
    Postgres {
        config: Box<postgres::Config>,
        schema: Option<String>,
        pool: Pool<postgres::Client>,
    },
}

/// A PostgreSQL transaction's outcome, or the error of its `BEGIN`.
enum Attempt<T> {
    BeginFailed(postgres::Error),
    Done(Result<T, StoreError>),
}

/// Whether a transaction writes (SQLite takes the write lock at its start, so that two writers
/// never deadlock upgrading read locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

impl Backend {
    pub fn sqlite(path: &Path, pool_size: usize) -> Backend {
        Backend::Sqlite {
            path: path.to_path_buf(),
            pool: Pool::new(pool_size),
            writers: WriteTurns::new(),
        }
    }

    pub fn postgres(
        url: &str,
        schema: Option<String>,
        pool_size: usize,
    ) -> Result<Backend, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Config(format!("invalid PostgreSQL URL: {e}"))
        })?;
        Ok(Backend::Postgres {
            config: Box::new(config),
            schema,
            pool: Pool::new(pool_size),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres { .. })
    }

    fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, StoreError> {
        let connection = rusqlite::Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )?;
        Ok(connection)
    }

    fn open_postgres(
        config: &postgres::Config,
        schema: Option<&str>,
    ) -> Result<postgres::Client, StoreError> {
        let mut client = config.connect(postgres::NoTls)?;
        if let Some(schema) = schema {
            // The schema name is the store's own (tests), quoted as an identifier.
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            client.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {quoted}; SET search_path TO {quoted}"
            ))?;
        }
        Ok(client)
    }

    /// One PostgreSQL transaction running `work` (taken from its option), or why it could not
    /// begin (then `work` is still there).
    fn postgres_attempt<T>(
        client: &mut postgres::Client,
        work: &mut Option<impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>>,
    ) -> Attempt<T> {
        let transaction = match client.transaction() {
            Ok(transaction) => transaction,
            Err(error) => return Attempt::BeginFailed(error),
        };
        let Some(work) = work.take() else {
            return Attempt::Done(Err(StoreError::Decode(
                "a transaction's work ran twice".to_string(),
            )));
        };
        let mut tx = Tx::Postgres(transaction);
        Attempt::Done(work(&mut tx).and_then(|value| tx.commit().map(|()| value)))
    }

    /// Runs `work` in one transaction, committed when it returns `Ok`.
    pub fn transaction<T>(
        &self,
        mode: Mode,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Backend::Sqlite {
                path,
                pool,
                writers,
            } => {
                let mut connection = match pool.take() {
                    Some(connection) => connection,
                    None => Self::open_sqlite(path)?,
                };
                // Readers never wait (WAL); writers of this process take turns.
                let turn = match mode {
                    Mode::Read => None,
                    Mode::Write => match writers.wait(SQLITE_TURN_TIMEOUT) {
                        Some(turn) => Some(turn),
                        None => {
                            pool.give_back(connection);
                            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                                Some("database is locked: no turn to write in time".to_string()),
                            )));
                        }
                    },
                };
                let result = (|| -> Result<T, StoreError> {
                    let behavior = match mode {
                        Mode::Read => rusqlite::TransactionBehavior::Deferred,
                        Mode::Write => rusqlite::TransactionBehavior::Immediate,
                    };
                    let mut tx = Tx::Sqlite(connection.transaction_with_behavior(behavior)?);
                    let value = work(&mut tx)?;
                    tx.commit()?;
                    Ok(value)
                })();
                drop(turn);
                pool.give_back(connection);
                result
            }
            Backend::Postgres {
                config,
                schema,
                pool,
            } => {
                let (mut client, mut fresh) = match pool.take() {
                    Some(client) if !client.is_closed() => (client, false),
                    _ => (Self::open_postgres(config, schema.as_deref())?, true),
                };
                let mut work = Some(work);
                loop {
                    let result = match Self::postgres_attempt(&mut client, &mut work) {
                        // A pooled connection may have died with its server (a restart, a
                        // failover, an administrator's pg_terminate_backend) without the
                        // client knowing yet: BEGIN fails on it. Nothing was done, so the
                        // transaction starts over once on a fresh connection.
                        Attempt::BeginFailed(_) if !fresh => {
                            client = Self::open_postgres(config, schema.as_deref())?;
                            fresh = true;
                            continue;
                        }
                        Attempt::BeginFailed(error) => Err(StoreError::from(error)),
                        Attempt::Done(result) => result,
                    };
                    if !client.is_closed() {
                        pool.give_back(client);
                    }
                    return result;
                }
            }
        }
    }
}

#[cfg(test)]
mod turn_tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn writers_are_served_in_the_order_they_arrived() {
        let turns = Arc::new(WriteTurns::new());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = turns.wait(Duration::from_secs(5)).expect("free");
        let mut waiting = Vec::new();
        for writer in 0..4u32 {
            let shared = Arc::clone(&turns);
            let order = Arc::clone(&order);
            waiting.push(std::thread::spawn(move || {
                let _turn = shared.wait(Duration::from_secs(10)).expect("turn");
                order.lock().expect("order").push(writer);
            }));
            // Each writer is queued before the next arrives.
            while turns.lock().queue.len() < writer as usize + 1 {
                std::thread::yield_now();
            }
        }
        drop(first);
        for thread in waiting {
            thread.join().expect("writer");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_writer_that_waited_too_long_leaves_the_queue_and_the_next_is_served() {
        let turns = Arc::new(WriteTurns::new());
        let held = turns.wait(Duration::from_secs(5)).expect("free");
        assert!(turns.wait(Duration::from_millis(20)).is_none());
        assert!(turns.lock().queue.is_empty());
        drop(held);
        assert!(turns.wait(Duration::from_millis(20)).is_some());
    }
}
