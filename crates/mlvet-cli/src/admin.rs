//! `mlvet serve` and `mlvet admin …`: the service's front door on the command line. The
//! service itself lives in `mlvet-server`; the store in `mlvet-store`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use mlvet_server::config::{PartialLimits, ServeSection};
use mlvet_store::{Location, Role, Store};

use crate::UsageError;
use crate::cli::{
    AdminCommand, AdminTokenCommand, AdminUserCommand, RoleArg, ServeArgs, StoreArgs, WorkerArgs,
};

fn data_dir(store: &StoreArgs) -> anyhow::Result<PathBuf> {
    match &store.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => mlvet_db::Database::data_dir().context("cannot locate mlvet's data directory"),
    }
}

fn open_store(store: &StoreArgs) -> anyhow::Result<Store> {
    let dir = data_dir(store)?;
    let location = Location::parse(store.database.as_deref(), &dir)
        .map_err(|e| anyhow::Error::new(UsageError(e.to_string())))?;
    Store::open(&location).context("cannot open the service's store")
}

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
        RoleArg::Viewer => Role::Viewer,
    }
}

pub fn run(command: AdminCommand) -> anyhow::Result<u8> {
    match command {
        AdminCommand::Token(AdminTokenCommand::Create {
            team,
            role: role_arg,
            name,
            expires,
            store,
        }) => {
            let store = open_store(&store)?;
            let created = store
                .create_token(&team, role(role_arg), &name, expires.as_deref())
                .map_err(|e| match e {
                    mlvet_store::StoreError::Invalid(m) => anyhow::Error::new(UsageError(m)),
                    other => anyhow::Error::new(other),
                })?;
            // The token alone on stdout (for `$(mlvet admin token create …)`), the rest on stderr.
            crate::write_output(None, &format!("{}\n", created.token))?;
            let _ = writeln!(
                anstream::stderr(),
                "mlvet: created {} token `{}` for team `{}`{}; it is shown only once",
                created.role,
                mlvet_report::text_internals::sanitize(&name),
                mlvet_report::text_internals::sanitize(&created.team.name),
                created
                    .expires
                    .map(|e| format!(", valid until {e}"))
                    .unwrap_or_default()
            );
            Ok(crate::exit::CLEAN)
        }
        AdminCommand::User(AdminUserCommand::Create {
            email,
            team,
            role: role_arg,
            store,
        }) => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let store = open_store(&store)?;
            store
                .create_user(&email, &team, role(role_arg), password)
                .map_err(|e| match e {
                    mlvet_store::StoreError::Invalid(m) => anyhow::Error::new(UsageError(m)),
                    mlvet_store::StoreError::Conflict(m) => {
                        anyhow::Error::new(UsageError(format!("{m} already exists")))
                    }
                    other => anyhow::Error::new(other),
                })?;
            let _ = writeln!(
                anstream::stderr(),
                "mlvet: created user {} ({}) in team `{}`",
                mlvet_report::text_internals::sanitize(&email),
                role(role_arg),
                mlvet_report::text_internals::sanitize(&team)
            );
            Ok(crate::exit::CLEAN)
        }
    }
}

/// `[serve]` of the configuration file given, discovered, or none.
fn serve_section(config: Option<&PathBuf>, no_config: bool) -> anyhow::Result<ServeSection> {
    let usage = |m: String| anyhow::Error::new(UsageError(m));
    let config_path = if no_config {
        None
    } else if let Some(path) = config {
        Some(path.clone())
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        mlvet_config::discover(&cwd).map_err(|e| usage(e.to_string()))?
    };
    match &config_path {
        Some(path) => mlvet_server::config::read_serve_section(path).map_err(usage),
        None => Ok(ServeSection::default()),
    }
}

/// `mlvet serve`: defaults, then `[serve]` of the configuration, then flags.
pub fn serve(args: &ServeArgs) -> anyhow::Result<u8> {
    let usage = |m: String| anyhow::Error::new(UsageError(m));
    let section = serve_section(args.config.as_ref(), args.no_config)?;
    let flags = PartialLimits {
        max_body_bytes: args.max_body_bytes,
        max_decompressed_bytes: args.max_decompressed_bytes,
        request_timeout_seconds: args.request_timeout_seconds,
        max_wait_seconds: args.max_wait_seconds,
        rate_per_minute: args.rate_per_minute,
        public_scan_per_minute: args.public_scan_per_minute,
        auth_failures_per_minute: args.auth_failures_per_minute,
        workers: args.workers,
        job_lease_seconds: args.job_lease_seconds,
        header_timeout_seconds: args.header_timeout_seconds,
        max_connections: args.max_connections,
    };
    let limits = flags.over(&section.limits().over(&mlvet_server::Limits::default()));
    let monitor = monitor_config(&args.monitor, &section).map_err(usage)?;
    let hub = hub_config(args.monitor.offline, &section);
    let config = mlvet_server::ServerConfig {
        listen: args
            .listen
            .or(section.listen)
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir: data_dir(&args.store)?,
        database: args.store.database.clone().or(section.database),
        public_scan: args.public_scan || section.public_scan.unwrap_or(false),
        limits,
        monitor,
        insecure_cookies: args.insecure_cookies || section.insecure_cookies.unwrap_or(false),
        hub,
    };
    config.validate().map_err(usage)?;
    mlvet_server::serve_blocking(config)?;
    Ok(crate::exit::CLEAN)
}

/// `mlvet worker`: the background work of the service without its API; the same store and
/// `[serve]` settings as `mlvet serve`.
pub fn worker(args: &WorkerArgs) -> anyhow::Result<u8> {
    let usage = |m: String| anyhow::Error::new(UsageError(m));
    let section = serve_section(args.config.as_ref(), args.no_config)?;
    let flags = PartialLimits {
        workers: Some(args.concurrency),
        job_lease_seconds: args.job_lease_seconds,
        ..PartialLimits::default()
    };
    let limits = flags.over(&section.limits().over(&mlvet_server::Limits::default()));
    let monitor = monitor_config(&args.monitor, &section).map_err(usage)?;
    let mut config = mlvet_server::ServerConfig::for_data_dir(&data_dir(&args.store)?);
    // Hub scans run as jobs, so the worker needs the same endpoint and token file as `serve`.
    config.hub = hub_config(args.monitor.offline, &section);
    config.database = args.store.database.clone().or(section.database);
    config.limits = limits;
    config.monitor = monitor;
    config.validate().map_err(usage)?;
    if args.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1".to_string()));
    }
    mlvet_server::worker_process::work_blocking(config, args.health_listen)?;
    Ok(crate::exit::CLEAN)
}

/// Hub scanning: `[serve.hub]` (endpoint, token file) over `$HF_ENDPOINT` over the Hub; the
/// re-check of tracked models every `hub-recheck-seconds` (6 h by default), off with
/// `--offline`; results keyed by this mlvet's version and a digest of its rules.
fn hub_config(
    offline_flag: bool,
    section: &ServeSection,
) -> mlvet_server::config::HubServiceConfig {
    use mlvet_server::config::HubServiceConfig;
    let mut hub = HubServiceConfig::default_for_version();
    let file = section.hub.clone().unwrap_or_default();
    if let Some(endpoint) = file.endpoint.or_else(|| {
        std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
    }) {
        hub.endpoint = endpoint.trim().trim_end_matches('/').to_string();
    }
    hub.token_file = file.token_file;
    let offline = offline_flag || section.offline == Some(true);
    hub.recheck = (!offline).then(|| {
        section.hub_recheck_seconds.map_or(
            HubServiceConfig::DEFAULT_RECHECK,
            std::time::Duration::from_secs,
        )
    });
    hub.tool_version = format!("{}+rules.{}", env!("CARGO_PKG_VERSION"), rules_digest());
    hub
}

/// A short digest of every rule's id, verdict, severity and summary: changes when a rule is
/// added, removed or regraded.
fn rules_digest() -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for rule in crate::rules::all_rules() {
        hasher.update(
            format!(
                "{}\t{}\t{}\t{}\n",
                rule.id, rule.verdict, rule.default_severity, rule.summary
            )
            .as_bytes(),
        );
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The monitor's settings: flags over `[serve]` over the defaults (hourly updates).
fn monitor_config(
    args: &crate::cli::MonitorArgs,
    section: &ServeSection,
) -> Result<mlvet_server::config::MonitorConfig, String> {
    let mut monitor = mlvet_server::config::MonitorConfig::offline();
    let offline = args.offline || (args.update_every.is_none() && section.offline == Some(true));
    monitor.update_every = if offline {
        None
    } else {
        match args
            .update_every
            .as_deref()
            .or(section.update_every.as_deref())
        {
            Some(text) => Some(mlvet_server::config::parse_duration(text)?),
            None => Some(mlvet_server::config::MonitorConfig::DEFAULT_UPDATE_EVERY),
        }
    };
    monitor.osv_url = section.osv_url.clone();
    monitor.allow_private_webhooks =
        args.allow_private_webhooks || section.allow_private_webhooks.unwrap_or(false);
    if let Some(n) = args.webhook_max_in_flight.or(section.webhook_max_in_flight) {
        monitor.webhook_max_in_flight = n;
    }
    if let Some(n) = args
        .webhook_rate_per_second
        .or(section.webhook_rate_per_second)
    {
        monitor.webhook_rate_per_second = n;
    }
    if let Some(n) = args.webhook_burst.or(section.webhook_burst) {
        monitor.webhook_burst = n;
    }
    Ok(monitor)
}
