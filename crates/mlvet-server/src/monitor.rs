//! Monitoring wired into the service (issue 12): mlvet-monitor's pure functions over the
//! store's data, in the store's transactions.
//!
//! - Uploads ([`on_upload`]): the project's whole inventory is matched against the advisory
//!   database as of a generation at least the monitor's cursor and reconciled
//!   (`Cause::Inventory`) under the project's lock, in the upload's transaction.
//! - The generation watcher ([`run_watcher`], one tick: [`watch_once`]): re-opens the advisory
//!   database every poll (≤ 1 s), claims a new range of generations once across processes (a
//!   `monitor_ranges` row written under an exclusive lock: a compare-and-set on the cursor),
//!   re-matches the distinct triples the delta touches with `rematch_delta` over the SQL
//!   inventory index, fans the changes out to the projects holding them, and reconciles them
//!   (`Cause::Advisory`) in batches of `PROJECTS_PER_TRANSACTION`, each project locked and its
//!   findings, events and `matched_generation` written in the batch's transaction (on PostgreSQL
//!   `FAN_OUT_CONNECTIONS` batches at once). One `advisories.updated` per processed range
//!   (per team).
//! - Matches and parsed advisory records are shared by every re-match of the process while the
//!   advisory database is unchanged ([`mlvet_monitor::MatchCache`]).
//! - Projects matched by another matcher version are re-matched in full once
//!   (`Cause::Matcher`).
//!
//! Events go to the outbox with their deliveries in the same transaction; `finding` in an
//! event is exactly what `GET /projects/{id}/findings` shows for the row
//! ([`crate::api::finding_json`]), read back inside the transaction.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use mlvet_db::{Database, PackageKey};
use mlvet_monitor::{
    Cause, Event, FindingRecord, FindingState, InventoryIndex, MATCHER_VERSION, Match, MatchCache,
    MonitorError, ProjectRef, Reconciled, Scope, Triple, TripleChange,
};
use mlvet_osv::{AdvisorySource, MatchOptions, MemorySource};
use mlvet_store::monitor::{ClaimedRange, FindingWrite, MonitorFinding, MonitorTx, NewEvent};
use mlvet_store::{Store, StoreError, StoredPackage};
use serde_json::{Value, json};

/// How long a claimed range is leased before another process may take it over (a process
/// that died mid-range delays the rest of its range by at most this long).
const RANGE_LEASE_SECONDS: i64 = 60;

/// How often the range's lease is renewed while its projects are reconciled.
const RENEW_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Projects reconciled per write transaction when a delta fans out: fewer commits than one per
/// project, without holding SQLite's single write lock for long (a project is about a
/// millisecond of work), so that deliveries' writes get their turn in between.
const PROJECTS_PER_TRANSACTION: usize = 10;

/// Batches of a fan-out reconciled at once on PostgreSQL (connections used side by side).
const FAN_OUT_CONNECTIONS: usize = 3;

/// The rules whose findings the monitor owns (pinned advisory matches). Unpinned requirements
/// (`dependency-unpinned`) stay with the upload's scan.
const MONITORED_RULES: [&str; 2] = ["dependency-vulnerable", "dependency-malicious-package"];

fn monitor_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Monitor(error.to_string())
}

/// Whether a finding of an upload's report is the monitor's (a pinned advisory match): the
/// upload's own copy is then left out, the monitor's reconciliation writes it.
pub fn is_monitored(rule: &str, body: &Value) -> bool {
    MONITORED_RULES.contains(&rule)
        && body["advisory"]["id"].is_string()
        && body["package"]["version"]
            .as_str()
            .is_some_and(|v| !v.trim().is_empty())
}

/// What one reconciliation wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub findings: usize,
    pub events: usize,
    pub deliveries: usize,
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, other: Written) {
        self.findings += other.findings;
        self.events += other.events;
        self.deliveries += other.deliveries;
    }
}

// ---- the advisory database ----

/// The advisory database in `data_dir` and its generation. An open handle is a snapshot (a
/// writer renames a new file over the database), so every match made with it is at that
/// generation. `None`: no database yet.
pub fn open_database(data_dir: &Path) -> Result<Option<(Database, u64)>, StoreError> {
    match Database::open(data_dir).map_err(monitor_error)? {
        None => Ok(None),
        Some(db) => {
            let generation = db.current_generation().map_err(monitor_error)?;
            Ok(Some((db, generation)))
        }
    }
}

// ---- rows and records ----

fn project_ref(project: &mlvet_store::Project) -> ProjectRef {
    ProjectRef {
        id: project.id.to_string(),
        name: project.name.clone(),
    }
}

/// The triple of a stored package, when it has an exact version.
fn triple_of(package: &StoredPackage) -> Option<Triple> {
    let version = package.package.version.as_deref()?.trim();
    if version.is_empty() || package.package.ecosystem.trim().is_empty() {
        return None;
    }
    Some(Triple::new(
        &package.package.ecosystem,
        &package.package.name,
        version,
    ))
}

/// A stored advisory finding as mlvet-monitor's record. Rows written before the monitor have
/// no triple or match columns: they are read back from the body (the JSON report's finding).
fn to_record(project_id: i64, row: &MonitorFinding) -> Option<FindingRecord> {
    // The body is parsed only for rows without the columns (a few KiB of JSON per finding,
    // read for every finding of every project a re-match touches).
    let body = || serde_json::from_str::<Value>(&row.body).unwrap_or(Value::Null);
    let package = match (&row.ecosystem, &row.package_key, &row.version) {
        (Some(ecosystem), Some(name), Some(version)) => Triple {
            ecosystem: ecosystem.clone(),
            name: name.clone(),
            version: version.clone(),
        },
        _ => {
            let body = body();
            Triple::new(
                body["package"]["ecosystem"].as_str()?,
                body["package"]["name"].as_str()?,
                body["package"]["version"].as_str()?,
            )
        }
    };
    let matched = match row.matched.as_deref().map(serde_json::from_str::<Match>) {
        Some(Ok(matched)) => matched,
        _ => {
            let body = body();
            let advisory = &body["advisory"];
            let strings = |value: &Value| -> Vec<String> {
                value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let text = |value: &Value| value.as_str().map(str::to_string);
            Match {
                advisory: advisory["id"].as_str()?.to_string(),
                aliases: strings(&advisory["aliases"]),
                rule: row.rule.clone(),
                severity: serde_json::from_value(json!(row.severity)).ok()?,
                cvss_score: advisory["cvss_score"].as_f64(),
                summary: text(&advisory["summary"]),
                fixed: text(&advisory["fixed"]),
                modified: text(&advisory["modified"]),
            }
        }
    };
    let state = match row.state.as_str() {
        "resolved" => FindingState::Resolved,
        "retracted" => FindingState::Retracted,
        _ => FindingState::Open,
    };
    let triage = row.live_triage.as_ref().map(|t| mlvet_monitor::Triage {
        status: t.triage.clone(),
        reason: Some(t.reason.clone()),
        suppressed: true,
    });
    let generation = |value: Option<i64>| value.and_then(|g| u64::try_from(g).ok()).unwrap_or(0);
    Some(FindingRecord {
        id: row.identity.clone(),
        project: project_id.to_string(),
        package,
        matched,
        state,
        triage,
        first_generation: generation(row.first_generation),
        last_changed_generation: generation(row.last_changed_generation),
    })
}

fn state_text(state: FindingState) -> &'static str {
    match state {
        FindingState::Open => "open",
        FindingState::Resolved => "resolved",
        FindingState::Retracted => "retracted",
    }
}

/// Matches and parsed advisory records shared by every re-match of this process (uploads, full
/// re-matches, fan-outs), reused while the advisory database holds the same records (see
/// [`mlvet_monitor::cache`]). One per process rather than per `App`: the stamp names the
/// database file, so processes or tests with other data directories never share an entry.
fn match_cache() -> &'static MatchCache {
    static CACHE: std::sync::OnceLock<MatchCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(MatchCache::default)
}

/// The matches of `triples` against the database, through the process's cache when `stamp`
/// (the database's [`Database::content_stamp`]) names its records.
fn match_inventory(
    db: &Database,
    stamp: Option<&str>,
    triples: &[Triple],
) -> Result<Vec<(Triple, Vec<Match>)>, StoreError> {
    match stamp {
        Some(stamp) => match_cache().match_triples(stamp, db, triples),
        None => mlvet_monitor::match_triples(db, triples),
    }
    .map_err(monitor_error)
}

/// Renders the report finding of a match for one project's package: the same JSON an upload's
/// scan would store (`mlvet-osv`'s matcher, the JSON report's finding type), one advisory
/// lookup per package key (per process, when `stamp` names the source's records).
struct Renderer<'s> {
    source: &'s dyn AdvisorySource,
    stamp: Option<String>,
    records: HashMap<PackageKey, Arc<MemorySource>>,
}

impl<'s> Renderer<'s> {
    fn new(source: &'s dyn AdvisorySource, stamp: Option<String>) -> Renderer<'s> {
        Renderer {
            source,
            stamp,
            records: HashMap::new(),
        }
    }

    fn body(
        &mut self,
        package: &StoredPackage,
        triple: &Triple,
        matched: &Match,
    ) -> Result<Option<Value>, StoreError> {
        let key = triple.key();
        if !self.records.contains_key(&key) {
            let records = match &self.stamp {
                Some(stamp) => match_cache()
                    .records(stamp, self.source, &key)
                    .map_err(monitor_error)?,
                None => Arc::new(MemorySource::new(
                    self.source
                        .advisories_for(&key.ecosystem, &key.name)
                        .map_err(monitor_error)?,
                )),
            };
            self.records.insert(key.clone(), records);
        }
        let Some(records) = self.records.get(&key) else {
            return Ok(None);
        };
        let dependency = mlvet_inventory::Dependency {
            ecosystem: package.package.ecosystem.clone(),
            name: package.package.name.clone(),
            normalized_name: triple.name.clone(),
            version: Some(triple.version.clone()),
            requirement: package.package.requirement.clone(),
            markers: None,
            extras: Vec::new(),
            source: mlvet_core::SourceRef {
                file: package.source.clone(),
                line: package.package.line.and_then(|l| u32::try_from(l).ok()),
            },
            origin: mlvet_inventory::Origin::CycloneDx,
            direct_url: None,
            purl: package.package.purl.clone(),
        };
        let result = mlvet_osv::match_dependencies(
            &[dependency],
            records.as_ref(),
            &MatchOptions::default(),
        );
        let found = result.findings.iter().find(|finding| {
            finding
                .advisory
                .as_ref()
                .is_some_and(|a| a.id == matched.advisory || matched.aliases.contains(&a.id))
        });
        Ok(found.and_then(|finding| {
            serde_json::to_value(mlvet_report::json_v1::Finding::from(finding)).ok()
        }))
    }
}

/// Everything a reconciliation's writes need about the project.
struct ProjectContext<'a> {
    project: &'a mlvet_store::Project,
    packages: &'a [StoredPackage],
    existing: &'a [MonitorFinding],
}

/// Writes a reconciliation: the finding rows, then each event with the finding as the API
/// shows it, and the deliveries of every event to the team's endpoints that want it.
fn write_reconciled(
    mtx: &mut MonitorTx<'_, '_>,
    context: &ProjectContext<'_>,
    reconciled: Reconciled,
    renderer: &mut Renderer<'_>,
    generation: u64,
    extra_events: Vec<Event>,
    webhooks: &mut WebhookCache,
) -> Result<Written, StoreError> {
    let mut written = Written::default();
    let by_identity: HashMap<&str, &MonitorFinding> = context
        .existing
        .iter()
        .map(|f| (f.identity.as_str(), f))
        .collect();
    let mut packages_by_triple: HashMap<Triple, &StoredPackage> = HashMap::new();
    for package in context.packages {
        if let Some(triple) = triple_of(package) {
            packages_by_triple.entry(triple).or_insert(package);
        }
    }
    let generation_i64 = i64::try_from(generation).unwrap_or(i64::MAX);
    // The row id of every record written, by the record's (monitor) id.
    let mut rows: HashMap<String, i64> = HashMap::new();
    for record in &reconciled.records {
        let stored = by_identity.get(record.id.as_str());
        let identity = match stored {
            Some(stored) => stored.identity.clone(),
            None => format!("osv|{}", record.id),
        };
        let package_row = packages_by_triple.get(&record.package).copied();
        let (body, source) = match (record.state, package_row, stored) {
            (FindingState::Open, Some(package), _) => {
                let body = renderer
                    .body(package, &record.package, &record.matched)?
                    .unwrap_or_else(|| mlvet_monitor::event::finding_json(record));
                (body.to_string(), package.source.clone())
            }
            // Closed: the finding as it was last seen.
            (_, _, Some(stored)) => (stored.body.clone(), stored.source.clone()),
            (_, Some(package), None) => (
                mlvet_monitor::event::finding_json(record).to_string(),
                package.source.clone(),
            ),
            (_, None, None) => (
                mlvet_monitor::event::finding_json(record).to_string(),
                String::new(),
            ),
        };
        let body_value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let package_name = body_value["package"]["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| record.package.name.clone());
        let matched = serde_json::to_string(&record.matched).map_err(monitor_error)?;
        let id = mtx.write_finding(
            context.project.id,
            &FindingWrite {
                identity: &identity,
                rule: &record.matched.rule,
                severity: record.matched.severity.as_str(),
                package: Some(&package_name),
                advisory: Some(&record.matched.advisory),
                source: &source,
                body: &body,
                lifecycle: state_text(record.state),
                ecosystem: &record.package.ecosystem,
                package_key: &record.package.name,
                version: &record.package.version,
                matched: &matched,
                first_generation: i64::try_from(record.first_generation).unwrap_or(0),
                last_changed_generation: i64::try_from(record.last_changed_generation)
                    .unwrap_or(generation_i64),
            },
        )?;
        rows.insert(record.id.clone(), id);
        written.findings += 1;
    }
    let project_json = json!({"id": context.project.id, "name": context.project.name});
    for event in reconciled.events.into_iter().chain(extra_events) {
        let mut data = event.data.clone();
        if data.is_object() {
            data["project"] = project_json.clone();
        }
        if let Some(monitor_id) = event.data["finding"]["id"].as_str() {
            let Some(&row) = rows.get(monitor_id) else {
                return Err(monitor_error(format!(
                    "an event names finding {monitor_id}, which was not written"
                )));
            };
            let stored = mtx.stored_finding(row)?;
            data["finding"] = crate::api::finding_json(&stored);
        }
        written.deliveries += write_event(
            mtx,
            webhooks,
            context.project.team_id,
            Some(context.project.id),
            &event,
            &data,
            generation,
        )?;
        written.events += 1;
    }
    Ok(written)
}

/// The team's enabled endpoints with their subscriptions, read once per transaction.
#[derive(Default)]
pub(crate) struct WebhookCache {
    teams: HashMap<i64, Vec<(i64, mlvet_webhooks::Subscription)>>,
}

impl WebhookCache {
    fn team(
        &mut self,
        mtx: &mut MonitorTx<'_, '_>,
        team: i64,
    ) -> Result<&[(i64, mlvet_webhooks::Subscription)], StoreError> {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.teams.entry(team) {
            let mut subscriptions = Vec::new();
            for webhook in mtx.enabled_webhooks(team)? {
                if let Some(subscription) = crate::webhooks_api::subscription(&webhook) {
                    subscriptions.push((webhook.id, subscription));
                }
            }
            entry.insert(subscriptions);
        }
        Ok(self.teams.get(&team).map(Vec::as_slice).unwrap_or(&[]))
    }
}

/// Writes one event and its deliveries; returns the number of deliveries queued.
fn write_event(
    mtx: &mut MonitorTx<'_, '_>,
    webhooks: &mut WebhookCache,
    team: i64,
    project: Option<i64>,
    event: &Event,
    data: &Value,
    generation: u64,
) -> Result<usize, StoreError> {
    let event_id = mlvet_webhooks::new_message_id().map_err(monitor_error)?;
    let data_text = data.to_string();
    let row = mtx.insert_event(&NewEvent {
        event_id: &event_id,
        event_type: event.event_type.as_str(),
        team_id: team,
        project_id: project,
        severity: event.severity.map(|s| s.as_str()),
        generation: i64::try_from(generation).ok(),
        data: &data_text,
    })?;
    let project_text = project.map(|p| p.to_string());
    let wanting: Vec<i64> = webhooks
        .team(mtx, team)?
        .iter()
        .filter(|(_, subscription)| {
            subscription.wants(
                event.event_type.as_str(),
                event.severity,
                project_text.as_deref(),
            )
        })
        .map(|(id, _)| *id)
        .collect();
    for webhook in &wanting {
        mtx.insert_delivery(row, *webhook)?;
    }
    Ok(wanting.len())
}

/// Reconciles a project in full against `source` at `generation` (an upload, a matcher
/// re-match): the whole inventory is matched, the index replaced, the project stamped.
/// Call with the project locked.
fn rematch_project(
    mtx: &mut MonitorTx<'_, '_>,
    project: &mlvet_store::Project,
    database: Option<&(Database, u64)>,
    cause: Cause,
    webhooks: &mut WebhookCache,
    with_processed_event: bool,
) -> Result<Written, StoreError> {
    let packages = mtx.packages(project.id)?;
    let inventory: BTreeSet<Triple> = packages.iter().filter_map(triple_of).collect();
    let index_rows: Vec<(String, String, String)> = inventory
        .iter()
        .map(|t| (t.ecosystem.clone(), t.name.clone(), t.version.clone()))
        .collect();
    mtx.replace_triples(project.id, &index_rows)?;
    let triples: Vec<Triple> = inventory.iter().cloned().collect();
    let generation = database.map_or(0, |(_, g)| *g);
    // Read once: it names the records for the match and for rendering the findings.
    let stamp = match database {
        Some((db, _)) => db.content_stamp().map_err(monitor_error)?,
        None => None,
    };
    let matches = match database {
        Some((db, _)) => match_inventory(db, stamp.as_deref(), &triples)?,
        // No database yet: nothing matches (and nothing is claimed safe: the project is
        // re-matched when the first generation arrives).
        None => Vec::new(),
    };
    let existing = mtx.findings(project.id)?;
    let records: Vec<FindingRecord> = existing
        .iter()
        .filter_map(|row| to_record(project.id, row))
        .collect();
    let reference = project_ref(project);
    let reconciled = mlvet_monitor::reconcile(
        &reference,
        &records,
        &inventory,
        &matches,
        &Scope::Project,
        cause,
        generation,
    );
    let open_after = open_count(&records, &reconciled);
    let mut extra = Vec::new();
    if with_processed_event {
        extra.push(Event::inventory_processed(
            &reference,
            packages.len(),
            open_after,
            generation,
        ));
    }
    let empty = mlvet_db::Database::in_memory().map_err(monitor_error)?;
    let source: &dyn AdvisorySource = match database {
        Some((db, _)) => db,
        None => &empty,
    };
    let mut renderer = Renderer::new(source, stamp);
    let written = write_reconciled(
        mtx,
        &ProjectContext {
            project,
            packages: &packages,
            existing: &existing,
        },
        reconciled,
        &mut renderer,
        generation,
        extra,
        webhooks,
    )?;
    mtx.stamp(project.id, generation, MATCHER_VERSION)?;
    Ok(written)
}

/// Open findings after a reconciliation: the stored ones updated by the written records.
fn open_count(existing: &[FindingRecord], reconciled: &Reconciled) -> usize {
    let mut states: BTreeMap<&str, FindingState> =
        existing.iter().map(|r| (r.id.as_str(), r.state)).collect();
    for record in &reconciled.records {
        states.insert(record.id.as_str(), record.state);
    }
    states
        .values()
        .filter(|s| **s == FindingState::Open)
        .count()
}

// ---- uploads ----

/// The monitor's part of an upload, inside its transaction (after the source's inventory was
/// replaced): lock the project, match its inventory at a generation at least the cursor,
/// reconcile (`Cause::Inventory`), write findings, `finding.*` and `inventory.processed`
/// events, stamp `matched_generation` and `matcher_version`.
pub fn on_upload(
    mtx: &mut MonitorTx<'_, '_>,
    project_id: i64,
    data_dir: &Path,
) -> Result<Written, StoreError> {
    let state = mtx.lock_project(project_id)?.ok_or(StoreError::NotFound)?;
    // Opened inside the transaction, which holds the monitor lock shared: every range claimed
    // before it is in the database this match uses (see mlvet_store::monitor).
    let database = open_database(data_dir)?;
    let mut webhooks = WebhookCache::default();
    rematch_project(
        mtx,
        &state.project,
        database.as_ref(),
        Cause::Inventory,
        &mut webhooks,
        true,
    )
}

/// The monitor's part of a failed upload: an `inventory.failed` event.
pub fn on_upload_failed(
    mtx: &mut MonitorTx<'_, '_>,
    project_id: i64,
    error: &str,
) -> Result<Written, StoreError> {
    let Some(state) = mtx.lock_project(project_id)? else {
        return Ok(Written::default());
    };
    let event = Event::inventory_failed(&project_ref(&state.project), error);
    let mut data = event.data.clone();
    data["project"] = json!({"id": state.project.id, "name": state.project.name});
    let mut webhooks = WebhookCache::default();
    let deliveries = write_event(
        mtx,
        &mut webhooks,
        state.project.team_id,
        Some(state.project.id),
        &event,
        &data,
        state.matched_generation,
    )?;
    Ok(Written {
        findings: 0,
        events: 1,
        deliveries,
    })
}

// ---- the generation watcher ----

/// The inventory index over the store, inside the claim's transaction.
struct SqlIndex<'t, 'a, 'c> {
    mtx: RefCell<&'t mut MonitorTx<'a, 'c>>,
}

impl InventoryIndex for SqlIndex<'_, '_, '_> {
    fn versions(&self, key: &PackageKey) -> Result<Vec<String>, MonitorError> {
        self.mtx
            .borrow_mut()
            .versions(&key.ecosystem, &key.name)
            .map_err(|e| MonitorError::Index(e.to_string()))
    }
}

/// What one watcher tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// The range processed, if any.
    pub range: Option<(u64, u64)>,
    /// Distinct triples whose matches changed.
    pub triples_changed: usize,
    /// Projects reconciled for the range.
    pub projects: usize,
    /// Full re-matches queued for projects matched by another matcher version.
    pub matcher_queued: usize,
    pub written: Written,
}

/// Starts the monitor's cursor at the advisory database's generation when the store has
/// none (first start). Run before uploads are processed, in every process that runs them.
pub fn prepare(store: &Store, data_dir: &Path) -> Result<(), StoreError> {
    let generation = open_database(data_dir)?.map_or(0, |(_, g)| g);
    store.monitor_exclusive(|mtx| mtx.init_cursor(generation))
}

/// One tick of the generation watcher: claim and process a new (or abandoned) range of
/// generations, then queue a full re-match of each project of another matcher version.
/// Safe to run from any number of processes at once.
pub fn watch_once(store: &Store, data_dir: &Path, worker: &str) -> Result<TickReport, StoreError> {
    watch_once_with(store, data_dir, worker, &|| {})
}

/// [`watch_once`], calling `committed` after each transaction that queued deliveries, so that
/// they go out while the rest of the range is still being reconciled.
pub fn watch_once_with(
    store: &Store,
    data_dir: &Path,
    worker: &str,
    committed: &(dyn Fn() + Sync),
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let database = open_database(data_dir)?;
    match &database {
        Some(database) => process_range(store, database, worker, &mut report, committed)?,
        // No database: the cursor starts at 0, so the first import is a delta like any other.
        None => store.monitor_exclusive(|mtx| mtx.init_cursor(0))?,
    }
    // Projects matched by another matcher version: a `rematch` job each (deduplicated per
    // project), run by whichever workers are free.
    report.matcher_queued = store.enqueue_rematches(MATCHER_VERSION)?;
    Ok(report)
}

/// A `rematch` job: the project's full re-match (`Cause::Matcher`) in the transaction that
/// completes the job. Idempotent: a project already matched by this matcher is left alone.
pub fn run_rematch_job(
    store: &Store,
    job: &mlvet_store::Job,
    data_dir: &Path,
) -> Result<Written, StoreError> {
    store.complete_job_with(job, |mtx| {
        let Some(state) = mtx.lock_project(job.project_id)? else {
            return Ok(Written::default());
        };
        if state.matcher_version.as_deref() == Some(MATCHER_VERSION) {
            return Ok(Written::default());
        }
        let current = open_database(data_dir)?;
        let mut webhooks = WebhookCache::default();
        rematch_project(
            mtx,
            &state.project,
            current.as_ref(),
            Cause::Matcher,
            &mut webhooks,
            false,
        )
    })
}

/// The re-match of one claimed range, computed under the claim's lock.
struct RangeWork {
    range: ClaimedRange,
    delta: mlvet_db::Delta,
    changes: Vec<TripleChange>,
    /// Per project, the indices into `changes` of the triples it holds.
    projects: BTreeMap<i64, Vec<usize>>,
}

fn process_range(
    store: &Store,
    (db, generation): &(Database, u64),
    worker: &str,
    report: &mut TickReport,
    committed: &(dyn Fn() + Sync),
) -> Result<(), StoreError> {
    let work = store.monitor_exclusive(|mtx| -> Result<Option<RangeWork>, StoreError> {
        let Some(range) = mtx.claim_range(*generation, *generation, worker, RANGE_LEASE_SECONDS)?
        else {
            return Ok(None);
        };
        let delta = db.delta(range.from, range.to).map_err(monitor_error)?;
        let before = db.view_at(range.from).map_err(monitor_error)?;
        let later;
        let after: &dyn AdvisorySource = if range.to == *generation {
            db
        } else {
            later = db.view_at(range.to).map_err(monitor_error)?;
            &later
        };
        let result = {
            let index = SqlIndex {
                mtx: RefCell::new(&mut *mtx),
            };
            mlvet_monitor::rematch_delta(&delta, &before, after, &index).map_err(monitor_error)?
        };
        let mut projects: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (index, change) in result.changes.iter().enumerate() {
            let t = &change.triple;
            for project in mtx.projects_holding(&t.ecosystem, &t.name, &t.version)? {
                projects.entry(project).or_default().push(index);
            }
        }
        Ok(Some(RangeWork {
            range,
            delta,
            changes: result.changes,
            projects,
        }))
    })?;
    let Some(work) = work else {
        return Ok(());
    };
    report.range = Some((work.range.from, work.range.to));
    report.triples_changed = work.changes.len();
    let stamp = if work.range.to == *generation {
        db.content_stamp().map_err(monitor_error)?
    } else {
        None
    };
    let projects: Vec<(&i64, &Vec<usize>)> = work.projects.iter().collect();
    let batches: Vec<&[(&i64, &Vec<usize>)]> = projects.chunks(PROJECTS_PER_TRANSACTION).collect();
    let next_batch = std::sync::atomic::AtomicUsize::new(0);
    let outcomes: std::sync::Mutex<Vec<(i64, Written)>> = std::sync::Mutex::new(Vec::new());
    let renewed = std::sync::Mutex::new(std::time::Instant::now());
    // One reconciler per connection the backend can use at once: PostgreSQL runs batches of
    // different projects side by side (each project is locked, so they never overlap); SQLite
    // has one writer, so one reconciler.
    let reconcilers = if store.is_postgres() {
        FAN_OUT_CONNECTIONS
    } else {
        1
    };
    let reconcile_batches = || -> Result<(), StoreError> {
        let later;
        let after: &dyn AdvisorySource = if work.range.to == *generation {
            db
        } else {
            // An earlier generation's view: not the records the stamp names.
            later = db.view_at(work.range.to).map_err(monitor_error)?;
            &later
        };
        let mut renderer = Renderer::new(after, stamp.clone());
        loop {
            let index = next_batch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(batch) = batches.get(index) else {
                return Ok(());
            };
            let renew = {
                let mut last = renewed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let due = last.elapsed() >= RENEW_AFTER;
                if due {
                    *last = std::time::Instant::now();
                }
                due
            };
            if renew {
                store.monitor(|mtx| mtx.renew_range(&work.range, worker, RANGE_LEASE_SECONDS))?;
            }
            let done = store.monitor(|mtx| -> Result<Vec<(i64, Written)>, StoreError> {
                let mut done = Vec::with_capacity(batch.len());
                // The endpoints are read once per transaction (their rows cannot change under it).
                let mut webhooks = WebhookCache::default();
                for (project_id, indices) in batch.iter() {
                    let changes: Vec<&TripleChange> =
                        indices.iter().map(|&i| &work.changes[i]).collect();
                    if let Some(outcome) = reconcile_project(
                        mtx,
                        **project_id,
                        &changes,
                        &work.range,
                        &mut renderer,
                        &mut webhooks,
                    )? {
                        done.push(outcome);
                    }
                }
                Ok(done)
            })?;
            if done.iter().any(|(_, written)| written.deliveries > 0) {
                committed();
            }
            outcomes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(done);
        }
    };
    let results: Vec<Result<(), StoreError>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..reconcilers)
            .map(|_| scope.spawn(reconcile_batches))
            .collect();
        let mut results = vec![reconcile_batches()];
        for helper in helpers {
            results.push(
                helper
                    .join()
                    .unwrap_or_else(|_| Err(monitor_error("a fan-out thread panicked"))),
            );
        }
        results
    });
    // A failed batch leaves the range claimed: its lease runs out and the range is processed
    // again (batches already committed are skipped: their projects carry the range's end).
    results.into_iter().collect::<Result<(), StoreError>>()?;
    let mut affected_by_team: BTreeMap<i64, usize> = BTreeMap::new();
    for (team, written) in outcomes
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        report.projects += 1;
        report.written += written;
        if written.findings > 0 {
            *affected_by_team.entry(team).or_default() += 1;
        }
    }
    let written = store.monitor(|mtx| -> Result<Written, StoreError> {
        let mut written = Written::default();
        let mut webhooks = WebhookCache::default();
        for team in mtx.teams_with_projects()? {
            let affected = affected_by_team.get(&team).copied().unwrap_or(0);
            let event = Event::advisories_updated(&work.delta, affected);
            written.deliveries += write_event(
                mtx,
                &mut webhooks,
                team,
                None,
                &event,
                &event.data,
                work.range.to,
            )?;
            written.events += 1;
        }
        mtx.finish_range(
            &work.range,
            MATCHER_VERSION,
            work.projects.len(),
            work.changes.len(),
        )?;
        Ok(written)
    })?;
    report.written += written;
    Ok(())
}

/// The generation watcher: a tick every `poll` on the blocking pool until `stop`. After a tick
/// that queued deliveries, `delivered` is woken.
pub async fn run_watcher(
    app: Arc<crate::App>,
    worker: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let poll = app.config.monitor.poll;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = std::time::Instant::now();
        let tick = {
            let app = Arc::clone(&app);
            let worker = worker.clone();
            tokio::task::spawn_blocking(move || {
                watch_once_with(&app.store, &app.config.data_dir, &worker, &|| {
                    app.monitor.deliveries_due.notify_one()
                })
            })
            .await
        };
        match tick {
            Ok(Ok(report)) => {
                if report.written.deliveries > 0 {
                    app.monitor.deliveries_due.notify_one();
                }
                if report.range.is_some() || report.matcher_queued > 0 {
                    crate::log::event(
                        "info",
                        "monitor_tick",
                        json!({
                            "range": report.range,
                            "triples_changed": report.triples_changed,
                            "projects": report.projects,
                            "matcher_queued": report.matcher_queued,
                            "findings": report.written.findings,
                            "events": report.written.events,
                            "deliveries": report.written.deliveries,
                            "ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        }),
                    );
                }
            }
            Ok(Err(error)) => crate::log::event(
                "error",
                "monitor_tick_failed",
                json!({ "error": error.to_string() }),
            ),
            Err(error) => crate::log::event(
                "error",
                "monitor_tick_failed",
                json!({ "error": error.to_string() }),
            ),
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Starts the monitor's loops of a process: the generation watcher, the webhook delivery
/// workers and the scheduled advisory update (when configured). They stop when `stop` turns
/// `true`.
pub fn spawn_loops(
    app: &Arc<crate::App>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let name = app.process.clone();
    vec![
        tokio::spawn(run_watcher(Arc::clone(app), name.clone(), stop.clone())),
        tokio::spawn(crate::delivery::run_deliveries(
            Arc::clone(app),
            name,
            stop.clone(),
        )),
        tokio::spawn(crate::updates::run_updates(Arc::clone(app), stop.clone())),
    ]
}

/// Shared by the server's monitor loops.
pub struct Shared {
    /// Woken when deliveries were queued (the delivery loop also polls).
    pub deliveries_due: tokio::sync::Notify,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            deliveries_due: tokio::sync::Notify::new(),
        }
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// One project's share of an advisory delta, inside the batch's transaction: locked, skipped when
/// an upload already matched it at the range's end (or it awaits a full re-match), else its
/// findings reconciled with the changed triples, events and deliveries written, and stamped.
fn reconcile_project(
    mtx: &mut mlvet_store::monitor::MonitorTx<'_, '_>,
    project_id: i64,
    changes: &[&TripleChange],
    range: &mlvet_store::monitor::ClaimedRange,
    renderer: &mut Renderer<'_>,
    webhooks: &mut WebhookCache,
) -> Result<Option<(i64, Written)>, StoreError> {
    let work_range_to = range.to;
    let Some(state) = mtx.lock_project(project_id)? else {
        return Ok(None);
    };
    // Already matched at this range's end or later (an upload won the race), or due
    // for a full re-match by the matcher sweep: nothing to do here.
    if state.matched_generation >= work_range_to
        || state.matcher_version.as_deref() != Some(MATCHER_VERSION)
    {
        return Ok(None);
    }
    // Only the findings on the changed packages: the delta's scope is those triples.
    let keys: BTreeSet<(String, String)> = changes
        .iter()
        .map(|c| (c.triple.ecosystem.clone(), c.triple.name.clone()))
        .collect();
    let keys: Vec<(String, String)> = keys.into_iter().collect();
    let existing = mtx.findings_on(state.project.id, &keys)?;
    let records: Vec<FindingRecord> = existing
        .iter()
        .filter_map(|row| to_record(state.project.id, row))
        .collect();
    let reconciled = mlvet_monitor::reconcile_delta(
        &project_ref(&state.project),
        &records,
        changes,
        work_range_to,
    );
    let packages = mtx.packages(state.project.id)?;
    let written = write_reconciled(
        mtx,
        &ProjectContext {
            project: &state.project,
            packages: &packages,
            existing: &existing,
        },
        reconciled,
        renderer,
        work_range_to,
        Vec::new(),
        webhooks,
    )?;
    mtx.stamp(state.project.id, work_range_to, MATCHER_VERSION)?;
    Ok(Some((state.project.team_id, written)))
}
