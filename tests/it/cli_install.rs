//! `conversure install`: the headless install through the same checks, then `serve` on the result.

use std::process::{Command, Output};

use crate::helpers::{binary, free_port};
use crate::license_server::test_license;
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

fn conversure(args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    command.args(args).current_dir("/").env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/");
    for (key, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_") && k != "CONVERSURE_NETWORK_PROBE_URL")
    {
        command.env_remove(key);
    }
    command.output().expect("run conversure")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Setup {
    _root: tempfile::TempDir,
    data: std::path::PathBuf,
    password_file: std::path::PathBuf,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().unwrap();
    let password_file = root.path().join("password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    Setup { data: root.path().join("data"), password_file, _root: root }
}

fn install(setup: &Setup, extra: &[&str]) -> Output {
    let mut args = vec![
        "install",
        "--data-dir",
        setup.data.to_str().unwrap(),
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        setup.password_file.to_str().unwrap(),
        "--site-url",
        "https://crm.acme.example",
    ];
    args.extend_from_slice(extra);
    conversure(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_install_then_serve() {
    let setup = setup();
    let output = install(&setup, &["--evaluation", "--workspace-name", "Acme Support"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let said = text(&output.stdout);
    assert!(
        said.contains("license: Evaluation mode")
            && said.contains("installed: sign in at https://crm.acme.example/login"),
        "{said}"
    );
    assert!(setup.data.join("recovery-kit.txt").exists());
    assert!(!setup.data.join("setup-token").exists());

    // Again: refused without --idempotent, accepted (and nothing changed) with it.
    let config_before = std::fs::read_to_string(setup.data.join("config.toml")).unwrap();
    let again = install(&setup, &["--evaluation"]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already installed"));
    let idempotent = install(&setup, &["--evaluation", "--idempotent"]);
    assert!(idempotent.status.success(), "{}", text(&idempotent.stderr));
    assert_eq!(std::fs::read_to_string(setup.data.join("config.toml")).unwrap(), config_before);

    // serve: the wizard is gone, the sign-in page is there, and the evaluation shows after signing in.
    let port = free_port();
    let mut child = Command::new(binary())
        .args(["serve", "--data-dir", setup.data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
        .env("CONVERSURE_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    conversure::init_crypto();
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while client.get(format!("{base}/healthz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
        assert!(std::time::Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(client.get(format!("{base}/install")).send().await.unwrap().status(), 404);
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let page = login.text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let signed = client
        .post(format!("{base}/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf", &csrf), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let home = client.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("data-evaluation=\"true\""), "the evaluation state is visible after login");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_tampered_license_file_is_refused_and_nothing_is_installed() {
    let setup = setup();
    let license_path = setup.password_file.with_file_name("license.json");
    let mut license = test_license(None, None).into_bytes();
    let middle = license.len() / 2;
    license[middle] = if license[middle] == b'x' { b'y' } else { b'x' };
    std::fs::write(&license_path, &license).unwrap();
    let output = install(&setup, &["--license-file", license_path.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(message.starts_with("error: --license-file: "), "names the option: {message}");
    assert!(!setup.data.join("config.toml").exists(), "nothing installed");
    assert!(setup.data.join("setup-token").exists(), "the browser wizard is still available");

    // The untouched file installs.
    std::fs::write(&license_path, test_license(None, None)).unwrap();
    let output = install(&setup, &["--license-file", license_path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("license: "));
}

#[test]
fn bad_options_are_named() {
    let setup = setup();
    let weak = setup.password_file.with_file_name("weak");
    std::fs::write(&weak, "password123\n").unwrap();
    let output = conversure(&[
        "install",
        "--data-dir",
        setup.data.to_str().unwrap(),
        "--admin-email",
        "not-an-email",
        "--admin-password-file",
        weak.to_str().unwrap(),
        "--site-url",
        "crm.example",
        "--evaluation",
    ]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--site-url"), "{}", text(&output.stderr));
    let output = install(&setup, &[]);
    assert!(!output.status.success(), "a license choice is required");
    assert!(text(&output.stderr).contains("--license-file") || text(&output.stderr).contains("--evaluation"));
    let output = conversure(&[
        "install",
        "--data-dir",
        setup.data.to_str().unwrap(),
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        weak.to_str().unwrap(),
        "--site-url",
        "https://crm.example",
        "--evaluation",
    ]);
    assert!(
        text(&output.stderr).contains("--admin-password-file") && text(&output.stderr).contains("too easy"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_into_postgres_from_the_command_line() {
    let Some(db) = crate::pg::TestDatabase::create().await else { return };
    let setup = setup();
    let output = install(&setup, &["--evaluation", "--database-url", &db.url]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("database: PostgreSQL"));
    let config = std::fs::read_to_string(setup.data.join("config.toml")).unwrap();
    assert!(config.contains("database_url = \"postgres://"), "the database is remembered: {config}");
    assert!(!setup.data.join("conversure.db").exists());
}

#[test]
fn the_recovery_code_resets_the_owner_password_once() {
    let setup = setup();
    assert!(install(&setup, &["--evaluation"]).status.success());
    let kit = std::fs::read_to_string(setup.data.join("recovery-kit.txt")).unwrap();
    let code = kit.lines().find_map(|l| l.strip_prefix("Admin recovery code:")).unwrap().trim().to_owned();
    let new_password = setup.password_file.with_file_name("new-password");
    std::fs::write(&new_password, "amber kettle lighthouse 77\n").unwrap();
    let reset = |code: &str| {
        conversure(&[
            "admin",
            "reset-password",
            "--data-dir",
            setup.data.to_str().unwrap(),
            "--email",
            ADMIN_EMAIL,
            "--recovery-code",
            code,
            "--password-file",
            new_password.to_str().unwrap(),
        ])
    };
    let wrong = reset("AAAAA-BBBBB-CCCCC-DDDDD");
    assert!(!wrong.status.success());
    assert!(text(&wrong.stderr).contains("recovery code or email is wrong"));
    let ok = reset(&code);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let said = text(&ok.stdout);
    let next =
        said.lines().find_map(|l| l.strip_prefix("The recovery code is used up. The new one is: ")).unwrap().to_owned();
    assert_ne!(next, code);
    assert!(!reset(&code).status.success(), "the old code is used up");
    assert!(reset(&next).status.success(), "the new code works");
}

#[test]
fn https_needs_a_domain_name_and_is_configured_for_serve() {
    let setup = setup();
    let data = setup.data.to_str().unwrap();
    let password = setup.password_file.to_str().unwrap();
    let base = ["install", "--data-dir", data, "--admin-email", ADMIN_EMAIL, "--admin-password-file", password];
    let output = conversure(&[&base[..], &["--site-url", "https://10.0.0.5", "--evaluation", "--https"]].concat());
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(said.contains("--https") && said.contains("domain name"), "{said}");
    let config = std::fs::read_to_string(setup.data.join("config.toml")).unwrap_or_default();
    assert!(!config.contains("tls_mode"), "{config}");

    let output = install(&setup, &["--evaluation", "--https"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let config = std::fs::read_to_string(setup.data.join("config.toml")).unwrap();
    assert!(
        config.contains("tls_mode = \"auto\"") && config.contains("tls_domains = \"crm.acme.example\""),
        "{config}"
    );
    assert!(config.contains(&format!("acme_email = \"{ADMIN_EMAIL}\"")), "{config}");
}
