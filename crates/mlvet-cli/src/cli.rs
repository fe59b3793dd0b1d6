//! Command-line definitions. Parsing only: the commands live in their own modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "mlvet",
    version,
    about = "Vet the supply chain of a machine-learning stack",
    long_about = None,
    after_help = "Exit codes: 0 nothing reached --fail-on; 1 a finding reached --fail-on; \
                  2 usage error; 3 an input could not be scanned or mlvet failed; \
                  4 `lock --check` found a modified, missing or new artefact or a corrupt cache blob; \
                  5 `verify`: the signature or the model did not verify."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan model files, archives, manifests, lockfiles, environments and SBOMs.
    Scan(ScanArgs),
    /// Manage the local advisory database.
    #[command(subcommand)]
    Db(DbCommand),
    /// List advisories in the local database.
    Advisories(AdvisoriesArgs),
    /// List every rule mlvet can report.
    Rules(RulesArgs),
    /// Pin every model, tokenizer and dataset artefact in mlvet.lock; --check compares.
    Lock(LockArgs),
    /// Verify an OpenSSF model signature (model-signing bundle) against a model.
    Verify(VerifyArgs),
    /// Sign a model with an EC private key (OpenSSF model signing, key method).
    Sign(SignArgs),
    /// Run the service: the HTTP API (`/api/v1`) on an embedded SQLite store or PostgreSQL.
    Serve(ServeArgs),
    /// Run the service's background work without the API (uploads, re-matches, webhook
    /// deliveries) against the same store as `mlvet serve --workers 0` replicas.
    Worker(WorkerArgs),
    /// Administer the service's store offline: API tokens and users.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or `listen` in `[serve]`].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Allow `POST /api/v1/scan` without a token (rate-limited per client address).
    #[arg(long)]
    pub public_scan: bool,
    /// Web sessions over plain HTTP: the session cookie without `Secure` (loopback listeners only).
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Read `[serve]` from FILE instead of the discovered mlvet.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long)]
    pub no_config: bool,
    /// Largest request body as sent, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,
    /// Largest body after gzip/zstd decompression, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_decompressed_bytes: Option<u64>,
    /// Longest time a request may take, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout_seconds: Option<u64>,
    /// Longest `?wait=` of an upload, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_wait_seconds: Option<u64>,
    /// Requests per minute per API token.
    #[arg(long, value_name = "N")]
    pub rate_per_minute: Option<u32>,
    /// Anonymous scans per minute per client address (with --public-scan).
    #[arg(long, value_name = "N")]
    pub public_scan_per_minute: Option<u32>,
    /// Failed authentications per minute per client address.
    #[arg(long, value_name = "N")]
    pub auth_failures_per_minute: Option<u32>,
    /// Jobs (uploads, re-matches) run at the same time by this process; 0: none, an API-only
    /// replica whose work `mlvet worker` processes do [default: 2].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// How long a claimed job is leased, in seconds, before another worker may take it over
    /// (its worker extends the lease while it runs) [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub job_lease_seconds: Option<u64>,
    /// Longest time a client may take to send its request headers, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub header_timeout_seconds: Option<u64>,
    /// Open connections at the same time.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Jobs run at the same time by this process.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub concurrency: usize,
    /// Answer `GET /healthz` and `GET /readyz` (queue depth) on ADDR [default: no listener].
    #[arg(long, value_name = "ADDR")]
    pub health_listen: Option<std::net::SocketAddr>,
    /// How long a claimed job is leased, in seconds, before another worker may take it over
    /// [default: 30, or `job-lease-seconds` in `[serve]`].
    #[arg(long, value_name = "SECONDS")]
    pub job_lease_seconds: Option<u64>,
    /// Read `[serve]` from FILE instead of the discovered mlvet.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long)]
    pub no_config: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

/// The monitoring flags `mlvet serve` and `mlvet worker` share (one process of a fleet runs the
/// scheduled update; every process that delivers applies the webhook limits).
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Update the advisory database from the configured OSV export this often (`1h`, `30m`,
    /// `1d`) [default: 1h, or `update-every` in `[serve]`].
    #[arg(long, value_name = "DURATION", conflicts_with = "offline")]
    pub update_every: Option<String>,
    /// No scheduled advisory update (imports and `mlvet db update` still reach the service) and
    /// no re-check of tracked Hub models.
    #[arg(long)]
    pub offline: bool,
    /// Deliver webhooks to private, loopback and link-local addresses too (refused by default
    /// against SSRF).
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// Webhook requests in flight to one endpoint from this process [default: 16, or
    /// `webhook-max-in-flight` in `[serve]`].
    #[arg(long, value_name = "N")]
    pub webhook_max_in_flight: Option<usize>,
    /// Webhook requests per second to one endpoint from this process [default: 200, or
    /// `webhook-rate-per-second` in `[serve]`].
    #[arg(long, value_name = "N")]
    pub webhook_rate_per_second: Option<u32>,
    /// Webhook requests sent at once to one endpoint after a quiet period [default: 100, or
    /// `webhook-burst` in `[serve]`].
    #[arg(long, value_name = "N")]
    pub webhook_burst: Option<u32>,
}

/// Where the service keeps its state.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// mlvet's data directory: the advisory database and the embedded store. Defaults to
    /// $MLVET_DATA_DIR or the per-user data directory.
    #[arg(long, value_name = "DIR", env = "MLVET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://USER@HOST:PORT/DB` to keep the store in PostgreSQL (or `sqlite:PATH`)
    /// [default: SQLite in the data directory].
    #[arg(long, value_name = "URL", env = "MLVET_DATABASE")]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// API tokens.
    #[command(subcommand)]
    Token(AdminTokenCommand),
    /// Users of the web app.
    #[command(subcommand)]
    User(AdminUserCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Member,
    Viewer,
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create an API token (and the team, if new) and print it once.
    Create {
        #[arg(long, value_name = "TEAM")]
        team: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A name to recognise the token by.
        #[arg(long, value_name = "NAME", default_value = "token")]
        name: String,
        /// Last day the token is valid (YYYY-MM-DD) [default: never expires].
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminUserCommand {
    /// Create a user (and the team, if new); the password is read from standard input.
    Create {
        email: String,
        #[arg(long, value_name = "TEAM")]
        team: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable report (colour on a TTY unless NO_COLOR is set).
    Terminal,
    /// The versioned JSON report documented in docs/json-report.md.
    Json,
}

/// The report formats of `mlvet scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Human-readable report (colour on a TTY unless NO_COLOR is set).
    Terminal,
    /// The versioned JSON report documented in docs/json-report.md.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other SARIF viewers).
    Sarif,
    /// CycloneDX 1.6 JSON AI-BOM: packages, models with model cards, vulnerabilities.
    Cyclonedx,
    /// A compact Markdown summary for pull-request comments.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<mlvet_core::Severity> {
        use mlvet_core::Severity;
        match self {
            FailOn::Critical => Some(Severity::Critical),
            FailOn::High => Some(Severity::High),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::Low => Some(Severity::Low),
            FailOn::Never => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan; `hf://ORG/NAME[@REVISION][/PATH]` (or a Hub URL) scans a
    /// Hugging Face Hub repository by range reads, without downloading it.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Terminal)]
    pub format: ScanFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit non-zero when a finding reaches this severity [default: high, or `fail-on` in the
    /// configuration].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Print only what fails the run (findings reaching --fail-on, scan errors) and the summary.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// List safe artefacts and suppressed findings too, with every piece of evidence.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Extra pickle policy (TOML, same format as the built-in policy); its entries win.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Compute the SHA-256 of every model file (reads each file in full; implied by --format cyclonedx).
    #[arg(long)]
    pub hash: bool,
    /// Skip dependency inventory and vulnerability matching.
    #[arg(long)]
    pub no_deps: bool,
    /// Evaluate requirement markers for this target Python (e.g. 3.11) instead of keeping them all.
    #[arg(long, value_name = "X.Y")]
    pub python_version: Option<String>,
    /// Target platform for marker evaluation: linux, darwin or win32 (with --python-version)
    /// [default: linux, or `platform` in the configuration].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Where mlvet keeps its state (advisory database). Defaults to $MLVET_DATA_DIR or the per-user data directory.
    #[arg(long, value_name = "DIR", env = "MLVET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Read the Hugging Face token for `hf://` targets from FILE [default: $HF_TOKEN]. It is sent
    /// to the Hub ($HF_ENDPOINT) only, never to the CDN downloads redirect to.
    #[arg(long, value_name = "FILE")]
    pub hf_token_file: Option<PathBuf>,
    /// Bytes read at most from one file of an `hf://` target; a file needing more is reported
    /// not fully inspected.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024 * 1024)]
    pub hf_max_file_bytes: u64,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Upload the manifests, lockfiles and SBOMs this scan inventoried to an mlvet server
    /// (`mlvet serve`) and print the link to the project's findings. The API token is read from
    /// $MLVET_TOKEN.
    #[arg(long, value_name = "URL", requires = "project")]
    pub upload: Option<String>,
    /// The server project to upload into (created when missing).
    #[arg(long, value_name = "NAME", requires = "upload")]
    pub project: Option<String>,
}

/// Project configuration, ignores and VEX (docs/configuration.md).
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Read the configuration from FILE (an mlvet.toml, or a pyproject.toml's [tool.mlvet])
    /// instead of discovering it from the current directory upwards.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore every configuration file (built-in defaults and command-line flags only).
    #[arg(long, visible_alias = "isolated")]
    pub no_config: bool,
    /// Skip files and folders matching this gitignore-style pattern (repeatable; added to the
    /// configuration's `exclude`).
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Apply the `not_affected` statements of this OpenVEX document (repeatable; added to the
    /// configuration's `vex`).
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Download OSV advisories (incrementally after the first run).
    Update(DbUpdateArgs),
    /// Import OSV records: JSON/YAML files (JSON arrays and OSV API answers too), directories, OSV zip exports.
    Import(DbImportArgs),
    /// Show what the database holds and how old it is.
    Status(DbStatusArgs),
    /// List the advisory generations: one per import or update that changed something.
    Generations(DbGenerationsArgs),
    /// Show what changed between two generations (default: the last one), per advisory and per package.
    Diff(DbDiffArgs),
}

#[derive(Debug, Args)]
pub struct DbGenerationsArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct DbDiffArgs {
    /// The generation to compare from (exclusive); default: the one before TO.
    pub from: Option<u64>,
    /// The generation to compare to (inclusive); default: the newest.
    pub to: Option<u64>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// Where mlvet keeps its state. Defaults to $MLVET_DATA_DIR or the per-user data directory.
    #[arg(long, value_name = "DIR", env = "MLVET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DbUpdateArgs {
    /// OSV ecosystems to download (repeatable).
    #[arg(long = "ecosystem", value_name = "NAME", default_value = "PyPI")]
    pub ecosystems: Vec<String>,
    /// Base URL of the OSV export bucket (or a mirror).
    #[arg(long, value_name = "URL", env = "MLVET_OSV_URL")]
    pub url: Option<String>,
    /// Hide the progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct DbImportArgs {
    /// OSV files, directories or zip exports.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Hide the progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct DbStatusArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct AdvisoriesArgs {
    /// Only advisories affecting ML libraries (mlvet's curated list).
    #[arg(long)]
    pub ml: bool,
    /// Only advisories for this package.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Show at most N advisories.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print the full rule documentation as Markdown (the source of docs/rules.md).
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The folder whose artefacts are pinned.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Compare the folder with the lockfile instead of writing it; exits 4 when any artefact is
    /// modified, missing or new.
    #[arg(long)]
    pub check: bool,
    /// The lockfile [default: PATH/mlvet.lock].
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// With --check: also ask the Hub ($HF_ENDPOINT) about every artefact pinned to a Hugging Face
    /// commit: does the commit still exist, does the local file equal the Hub's record of it at
    /// that commit (LFS sha256 or git blob id), has its branch moved. Offline without it.
    #[arg(long, requires = "check")]
    pub hub: bool,
    /// Read the Hugging Face token for --hub from FILE [default: $HF_TOKEN]. It is sent to the
    /// Hub ($HF_ENDPOINT) only.
    #[arg(long, value_name = "FILE", requires = "hub")]
    pub hf_token_file: Option<PathBuf>,
    /// The repository (`ORG/NAME`, `datasets/ORG/NAME`) of files downloaded with `local_dir`,
    /// whose download metadata records the commit but not the repository.
    #[arg(long, value_name = "REPO")]
    pub hf_repo: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The model folder (or single file) that was signed.
    pub model: PathBuf,
    /// The signature bundle [default: MODEL/model.sig, or MODEL.sig for a file].
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Key method: the signer's EC public key (PEM or DER; P-256, P-384 or P-521).
    #[arg(long, value_name = "PUB.pem", conflicts_with = "cert_chain")]
    pub key: Option<PathBuf>,
    /// Certificate method: the trusted root (and intermediate) certificates, PEM (repeatable).
    #[arg(long = "cert-chain", value_name = "CA.pem")]
    pub cert_chain: Vec<PathBuf>,
    /// Keyless Sigstore: the signer identity (certificate SAN).
    #[arg(long, value_name = "ID", requires = "issuer")]
    pub identity: Option<String>,
    /// Keyless Sigstore: the OIDC issuer of the identity.
    #[arg(long, value_name = "URL", requires = "identity")]
    pub issuer: Option<String>,
    /// Keyless Sigstore: a trusted_root.json to use instead of the embedded public-good root
    /// (builds with the `sigstore` feature).
    #[arg(long, value_name = "FILE", requires = "identity")]
    pub trusted_root: Option<PathBuf>,
    /// Leave out these paths (relative to the model, or existing paths inside it; repeatable),
    /// on top of the signature's own ignore paths.
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Hash .git, .gitattributes, .github and .gitignore too (left out by default).
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Check only the files the signature names; files it does not name are not reported.
    #[arg(long)]
    pub ignore_unsigned_files: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Terminal)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The model folder (or single file) to sign.
    pub model: PathBuf,
    /// The EC private key (PEM: `EC PRIVATE KEY` or unencrypted PKCS#8; P-256, P-384 or P-521).
    #[arg(long, value_name = "PRIV.pem")]
    pub key: PathBuf,
    /// Where to write the signature bundle.
    #[arg(long, value_name = "FILE", default_value = "model.sig")]
    pub signature: PathBuf,
    /// Leave out these paths (relative to the model, or existing paths inside it; repeatable).
    #[arg(long = "ignore-paths", value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,
    /// Sign .git, .gitattributes, .github and .gitignore too (left out by default).
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Hash symbolic links' targets instead of refusing them.
    #[arg(long)]
    pub allow_symlinks: bool,
    /// File hash: sha256, blake2b or blake3.
    #[arg(long, value_name = "NAME", default_value = "sha256")]
    pub hash_type: String,
    /// Hash each file in shards of this many bytes (the format's `shards` serialisation).
    #[arg(long, value_name = "BYTES")]
    pub shard_size: Option<u64>,
}
