//! `conversure-license`: the vendor's tool to create the signing key, sign license files and check them.
//!
//! ```text
//! conversure-license keygen --out KEYFILE [--key-id ID]
//! conversure-license sign --key KEYFILE --key-id ID --licensee NAME --plan PLAN [--email E] [--expires YYYY-MM-DD]
//!     [--instance-id ID] [--limit-workspaces N] [--limit-agents N] [--limit-numbers N] [--limit-contacts N]
//!     [--limit-messages-per-month N] [--feature NAME]... [--license-id ID] --out FILE
//! conversure-license verify FILE [--instance-id ID]
//! ```
//!
//! The private key file holds the 32-byte Ed25519 seed as hex. Keep it offline; see `docs/LICENSING.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use conversure::license::{self, ALL_FEATURES, FEATURES, LicenseState, Limits, PRODUCT, Payload, keys};
use ed25519_dalek::SigningKey;

#[derive(Debug, Parser)]
#[command(
    name = "conversure-license",
    version,
    about = "Create the license signing key, sign and check Conversure license files."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new signing key; prints the public key and the line to add to src/license/keys.rs.
    Keygen {
        /// Where to write the private key (hex, mode 0600); an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The id this key will have in license files (default: prod-<current year>).
        #[arg(long, value_name = "ID")]
        key_id: Option<String>,
    },
    /// Sign a license file.
    Sign(Box<SignArgs>),
    /// Show what a license file says and whether this build accepts it.
    Verify {
        /// The license file.
        file: PathBuf,
        /// Also check the binding to this installation id (and refuse an expired license, as installing does).
        #[arg(long, value_name = "ID")]
        instance_id: Option<String>,
    },
}

#[derive(Debug, Args)]
struct SignArgs {
    /// The private key file written by `keygen`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The key's id, as listed in src/license/keys.rs.
    #[arg(long, value_name = "ID")]
    key_id: String,
    /// Who the license is for (person or company).
    #[arg(long, value_name = "NAME")]
    licensee: String,
    /// The plan's name.
    #[arg(long, value_name = "PLAN")]
    plan: String,
    #[arg(long, value_name = "EMAIL")]
    email: Option<String>,
    /// Last day of validity (UTC, inclusive); without it the license is perpetual.
    #[arg(long, value_name = "YYYY-MM-DD")]
    expires: Option<String>,
    /// Bind the license to one installation (its instance id); without it the license works on any installation.
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// The license's id (default: a random UUID).
    #[arg(long, value_name = "ID")]
    license_id: Option<String>,
    #[arg(long, value_name = "N")]
    limit_workspaces: Option<u32>,
    #[arg(long, value_name = "N")]
    limit_agents: Option<u32>,
    /// WhatsApp numbers.
    #[arg(long, value_name = "N")]
    limit_numbers: Option<u32>,
    #[arg(long, value_name = "N")]
    limit_contacts: Option<u32>,
    #[arg(long, value_name = "N")]
    limit_messages_per_month: Option<u32>,
    /// A feature to grant (repeatable; default: every feature, "*").
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,
    /// Where to write the license file; an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out, key_id } => keygen(&out, key_id),
        Command::Sign(args) => sign(&args),
        Command::Verify { file, instance_id } => verify(&file, instance_id.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("conversure-license: {message}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(out: &Path, key_id: Option<String>) -> Result<ExitCode, String> {
    let key_id = match key_id {
        Some(id) => check_key_id(&id)?,
        None => format!("prod-{}", jiff::Zoned::now().year()),
    };
    let mut seed = [0u8; 32];
    {
        use rand::TryRngCore;
        rand::rngs::OsRng.try_fill_bytes(&mut seed).map_err(|e| format!("the system random generator failed: {e}"))?;
    }
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let mut text = hex::encode(seed);
    text.push('\n');
    write_new(out, text.as_bytes(), true)?;
    zeroize::Zeroize::zeroize(&mut seed);
    zeroize::Zeroize::zeroize(&mut text);

    let public = hex::encode(public);
    println!("Wrote the private key to {} (mode 0600).", out.display());
    println!(
        "Keep it offline and backed up: anyone holding it can issue licenses, and losing it means a key rotation."
    );
    println!();
    println!("public key: {public}");
    println!("key id:     {key_id}");
    println!();
    println!("Add this line to PRODUCTION in src/license/keys.rs, then build and release:");
    println!("    (\"{key_id}\", public_key_from_hex(\"{public}\")),");
    Ok(ExitCode::SUCCESS)
}

fn sign(args: &SignArgs) -> Result<ExitCode, String> {
    let key_id = check_key_id(&args.key_id)?;
    let seed = read_seed(&args.key)?;
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    match keys::trusted_key(&key_id) {
        Some(trusted) if trusted != public => {
            return Err(format!(
                "{} is not the key this build trusts as {key_id:?}; check --key and --key-id",
                args.key.display()
            ));
        }
        Some(_) => {}
        None => eprintln!(
            "conversure-license: warning: this build does not trust key id {key_id:?}; only builds that list it in src/license/keys.rs accept this license"
        ),
    }

    let now = jiff::Timestamp::now().as_millisecond();
    let expires_at = args.expires.as_deref().map(|date| end_of_day(date, now)).transpose()?;
    let licensee = required("--licensee", &args.licensee)?;
    let plan = required("--plan", &args.plan)?;
    let email = match args.email.as_deref().map(str::trim) {
        Some(email) if !email.contains('@') || email.contains(char::is_whitespace) => {
            return Err(format!("--email {email:?} is not an email address"));
        }
        other => other.map(str::to_owned),
    };
    let instance_id = args.instance_id.as_deref().map(|id| required("--instance-id", id)).transpose()?;
    let features = if args.features.is_empty() { vec![ALL_FEATURES.to_owned()] } else { args.features.clone() };
    if let Some(unknown) = features.iter().find(|f| f.as_str() != ALL_FEATURES && !FEATURES.contains(&f.as_str())) {
        return Err(format!(
            "unknown feature {unknown:?}; known: {} (or \"{ALL_FEATURES}\" for all)",
            FEATURES.join(", ")
        ));
    }

    let payload = Payload {
        license_id: match &args.license_id {
            Some(id) => required("--license-id", id)?,
            None => uuid::Uuid::new_v4().to_string(),
        },
        product: PRODUCT.to_owned(),
        licensee,
        email,
        plan,
        issued_at: now,
        expires_at,
        instance_id,
        limits: Limits {
            workspaces: args.limit_workspaces,
            agents: args.limit_agents,
            numbers: args.limit_numbers,
            contacts: args.limit_contacts,
            messages_per_month: args.limit_messages_per_month,
        },
        features,
    };
    let mut text = license::sign(&payload, &key_id, &seed);
    text.push('\n');
    write_new(&args.out, text.as_bytes(), false)?;

    println!(
        "Signed license {} for {} ({} plan), {}, {}: {}",
        payload.license_id,
        payload.licensee,
        payload.plan,
        payload
            .expires_at
            .map_or_else(|| "perpetual".to_owned(), |at| format!("valid until {}", license::format_date(at - 1))),
        payload.instance_id.as_deref().map_or_else(|| "any installation".to_owned(), |id| format!("bound to {id}")),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(file: &Path, instance_id: Option<&str>) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let claimed = license::read_unverified(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let pretty = serde_json::to_string_pretty(&claimed.payload).map_err(|e| e.to_string())?;
    println!("{pretty}");
    let trusted = if keys::trusted_key(&claimed.key_id).is_some() {
        "trusted by this build"
    } else {
        "NOT trusted by this build"
    };
    println!("key id:    {} ({trusted})", claimed.key_id);

    let now = jiff::Timestamp::now().as_millisecond();
    let checked = match instance_id {
        Some(id) => license::verify(&text, id, now),
        None => license::verify_signature(&text),
    };
    match checked {
        Ok(license) => {
            println!("signature: valid");
            let state = match license.state(now) {
                LicenseState::Active { days_left: None } => "active, perpetual".to_owned(),
                LicenseState::Active { days_left: Some(days) } => format!("active, {days} days left"),
                LicenseState::Grace { days_left } => format!("expired, in grace for {days_left} more days"),
                LicenseState::Lapsed => "lapsed (expired, grace over)".to_owned(),
            };
            println!("state:     {state}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("refused:   {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A key id: 1 to 64 of `a-z 0-9 - _ .`.
fn check_key_id(id: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(id.to_owned()) } else { Err(format!("key id {id:?} must be 1 to 64 of a-z, 0-9, '-', '_', '.'")) }
}

fn required(flag: &str, value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() { Err(format!("{flag} must not be empty")) } else { Ok(value.to_owned()) }
}

/// The first instant after `date` (UTC), so the license is valid through that whole day; must be in the future.
fn end_of_day(date: &str, now: i64) -> Result<i64, String> {
    let day: jiff::civil::Date =
        date.trim().parse().map_err(|_| format!("--expires {date:?} is not a date like 2027-12-31"))?;
    let end = day
        .tomorrow()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
        .map_err(|e| format!("--expires {date:?}: {e}"))?
        .timestamp()
        .as_millisecond();
    if end <= now {
        return Err(format!("--expires {date} is in the past; such a license cannot be installed"));
    }
    Ok(end)
}

fn read_seed(path: &Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!("conversure-license: warning: {} is readable by other users; chmod 600 it", path.display());
        }
    }
    let mut bytes = hex::decode(text.trim()).map_err(|_| format!("{} does not hold a hex key", path.display()))?;
    let seed: Result<[u8; 32], _> = bytes.as_slice().try_into();
    zeroize::Zeroize::zeroize(&mut bytes);
    seed.map_err(|_| format!("{} does not hold a 32-byte key (64 hex digits)", path.display()))
}

/// Writes a file that must not exist yet; `private` makes it readable by the owner only.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; not overwriting it", path.display()),
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
