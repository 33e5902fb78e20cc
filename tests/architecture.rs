//! The architecture invariants of ARCHITECTURE.md, checked on the sources:
//!
//! - the core's modules use only modules below them (no import circle): `http`, `time`,
//!   `random` → `diagnosis` → `provider` → `authorize`, `token` → `schedule` → `connection` →
//!   `vault` → `engine` → `view` → `error` → `web`;
//! - only `src/provider/` names a provider: `connection.rs`, `engine.rs`, `view.rs`,
//!   `error.rs` and `src/web/` never do;
//! - no JavaScript or HTML file under `www/`, `extension/` or `addin-manifest/` knows a
//!   provider's host.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file's text without its unit tests (`#[cfg(test)] mod tests`), which may name anything.
fn code_of(path: &Path) -> String {
    let text = read(path);
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The layer of a core module; a module may use only modules of lower layers.
fn layer(module: &str) -> Option<u32> {
    Some(match module {
        "http" | "time" | "random" => 0,
        "diagnosis" => 1,
        "provider" => 2,
        "authorize" | "token" => 3,
        "schedule" => 4,
        "connection" => 5,
        "vault" => 6,
        "engine" => 7,
        "view" => 8,
        "error" => 9,
        "web" => 10,
        _ => return None,
    })
}

/// The core module a source file belongs to (`src/provider/google.rs` → `provider`).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(root().join("src")).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_string()
}

/// The core modules a file names as `crate::<module>`.
fn uses(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[test]
fn the_core_has_no_import_circle() {
    let mut violations = Vec::new();
    for path in files(&root().join("src"), &["rs"]) {
        let module = module_of(&path);
        if module == "lib" {
            continue;
        }
        let own = layer(&module).unwrap_or_else(|| panic!("{module} has no layer"));
        for used in uses(&code_of(&path)) {
            let Some(theirs) = layer(&used) else { continue };
            if used != module && theirs >= own {
                violations.push(format!("{} uses crate::{used}", path.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn only_the_provider_files_name_a_provider() {
    let names = [
        "ProviderId::Microsoft",
        "ProviderId::Google",
        "ProviderId::Salesforce",
        "ProviderId::Exchange",
        "microsoft::",
        "google::",
        "salesforce::",
        "exchange::",
        "MicrosoftConfig",
        "GoogleConfig",
        "SalesforceConfig",
        "ExchangeConfig",
        "MailService::OutlookCom",
    ];
    let mut paths: Vec<PathBuf> = ["connection.rs", "engine.rs", "view.rs", "error.rs"]
        .iter()
        .map(|f| root().join("src").join(f))
        .collect();
    paths.extend(files(&root().join("src/web"), &["rs"]));
    let mut violations = Vec::new();
    for path in paths {
        let code = code_of(&path);
        for name in names {
            if code.contains(name) {
                violations.push(format!("{} names {name}", path.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn no_host_file_knows_a_providers_host() {
    let hosts = [
        "microsoftonline",
        "login.live.com",
        "graph.microsoft",
        "office365",
        "outlook.office",
        "googleapis",
        "accounts.google",
        "salesforce.com",
        "force.com",
    ];
    let mut violations = Vec::new();
    for dir in ["www", "extension", "addin-manifest"] {
        for path in files(&root().join(dir), &["js", "mjs", "html"]) {
            let text = read(&path);
            for host in hosts {
                if text.contains(host) {
                    violations.push(format!("{} names {host}", path.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The checks above would pass on an empty tree: make sure they read the real one.
    assert!(files(&root().join("src"), &["rs"]).len() > 20);
    assert!(files(&root().join("www"), &["js"]).len() >= 3);
    assert!(files(&root().join("extension"), &["js"]).len() >= 5);
    assert!(files(&root().join("addin-manifest"), &["js"]).len() >= 5);
    assert_eq!(
        uses("use crate::provider::X; crate::time::Y"),
        ["provider", "time"]
    );
    assert!(code_of(&root().join("src/provider/google.rs")).contains("ProviderId::Google"));
}
