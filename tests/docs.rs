//! The README and `examples/` against the binary: the configuration
//! reference is the one the binary prints, every metric the code exports is
//! documented and every metric the docs and dashboards use exists, and every
//! example config file, env file and manifest variable is one stellarflow
//! reads, with a value it accepts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use stellarflow::config::{self, LoadOptions, Role, SETTINGS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every file under `dir` (relative to the crate root), recursively.
fn files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root().join(dir)];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Words made of `[A-Za-z0-9_]` in `text` that start with one of `prefixes`.
fn words_with(text: &str, prefixes: &[&str]) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| prefixes.iter().any(|p| w.starts_with(p)))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_holds_the_current_configuration_reference() {
    let readme = read("README.md");
    let start = "<!-- config-reference:start -->\n";
    let end = "<!-- config-reference:end -->";
    let from = readme
        .find(start)
        .expect("README has the reference start marker")
        + start.len();
    let to = readme
        .find(end)
        .expect("README has the reference end marker");
    let generated = config::reference_markdown();
    assert_eq!(
        readme[from..to].trim(),
        generated.trim(),
        "README's configuration reference is stale: replace the text between the markers with \
         the output of `cargo run --release -- config reference`"
    );
    // Every setting is there, so every env var is documented.
    for setting in SETTINGS {
        for name in config::env_names(setting) {
            assert!(readme.contains(&name), "{name} is not in the README");
        }
    }
}

/// Metric names the code exports: string literals that name a metric.
fn exported_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for path in files("src") {
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in text.split('"').skip(1).step_by(2) {
                let metric = ["stellarflow_", "flowctl_"]
                    .iter()
                    .any(|p| literal.starts_with(p))
                    && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                // `flowctl_endpoint` is a config-show label, not a metric.
                if metric && literal != "flowctl_endpoint" {
                    names.insert(literal.to_string());
                }
            }
        }
    }
    assert!(names.len() > 30, "found only {names:?}");
    names
}

/// `name` without the suffixes Prometheus adds to histogram series.
fn base(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|b| b.ends_with("_seconds"))
        .unwrap_or(name)
}

#[test]
fn documented_metrics_are_the_exported_ones() {
    let exported = exported_metrics();
    let readme = read("README.md");
    let section = &readme[readme.find("## Metrics reference").unwrap()..];
    let section = &section[..section[3..].find("\n## ").unwrap()];
    let documented: BTreeSet<String> = words_with(section, &["stellarflow_", "flowctl_"])
        .into_iter()
        .map(|w| base(&w).to_string())
        .collect();
    let missing: Vec<_> = exported.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "exported but not in README's metrics reference: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "in README's metrics reference but never exported: {unknown:?}"
    );

    for rel in [
        "examples/monitoring/alerts.yml",
        "examples/monitoring/grafana-dashboard.json",
    ] {
        let used = words_with(&read(rel), &["stellarflow_", "flowctl_"]);
        assert!(used.len() > 10, "{rel} uses only {used:?}");
        for name in used {
            assert!(
                exported.contains(base(&name)),
                "{rel} uses {name}, which stellarflow does not export"
            );
        }
    }
}

#[test]
fn example_config_files_load() {
    let configs = files("examples/config");
    assert!(configs.len() >= 8, "{configs:?}");
    for path in configs {
        for role in Role::ALL {
            config::load(
                role,
                LoadOptions {
                    profile: None,
                    file: Some(path.clone()),
                    flags: Vec::new(),
                    env: &|_| None,
                },
            )
            .unwrap_or_else(|e| panic!("{} for {role:?}: {e}", path.display()));
        }
    }
}

/// Every environment variable stellarflow reads.
fn known_env() -> BTreeSet<String> {
    let prefixes =
        [Role::Source, Role::Processor, Role::Sink].map(|r| r.env_prefix().to_string() + "_");
    let mut known = BTreeSet::new();
    for setting in SETTINGS {
        for name in config::env_names(setting) {
            match name.strip_prefix("<ROLE>_") {
                Some(rest) => known.extend(prefixes.iter().map(|p| format!("{p}{rest}"))),
                None => {
                    known.insert(name);
                }
            }
        }
    }
    known
}

/// Names that look like ours: a role prefix or a shared setting's name.
fn ours(name: &str, known: &BTreeSet<String>) -> bool {
    let prefixes = [
        "STELLAR_ARROW_SOURCE_",
        "TTP_ARROW_PROCESSOR_",
        "ARROW_ANALYTICS_SINK_",
        "FLOWCTL_",
        "CONNECTION_POOL_",
        "FLOW_CONTROL_",
        "MONITORING_",
    ];
    prefixes.iter().any(|p| name.starts_with(p)) || known.contains(name)
}

fn parse_env_file(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not NAME=value: {l}", path.display()));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn example_env_files_set_known_variables_to_valid_values() {
    let known = known_env();
    let envs: Vec<PathBuf> = files("examples/multi-host")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .collect();
    assert_eq!(envs.len(), 4, "{envs:?}");
    for path in envs {
        let vars = parse_env_file(&path);
        for name in vars.keys() {
            assert!(
                known.contains(name),
                "{}: stellarflow does not read {name}",
                path.display()
            );
        }
        let role_name = path.file_stem().unwrap().to_str().unwrap();
        let role = Role::parse(role_name).unwrap();
        config::load(
            role,
            LoadOptions {
                profile: Some("production".into()),
                file: None,
                flags: Vec::new(),
                env: &|name| vars.get(name).cloned(),
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn manifests_and_units_name_only_variables_stellarflow_reads() {
    let known = known_env();
    let mut checked = 0;
    for dir in ["examples/kubernetes", "examples/systemd"] {
        for path in files(dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            for word in words_with(
                &text,
                &["STELLAR", "TTP_", "ARROW_", "FLOWCTL_", "LOG_", "ENABLE_"],
            ) {
                if ours(&word, &known) || word.starts_with("LOG_") || word.starts_with("ENABLE_") {
                    assert!(
                        known.contains(&word),
                        "{}: stellarflow does not read {word}",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} variables found");
}

#[test]
fn yaml_examples_parse() {
    let Some(python) = common::python_with(&["yaml"]) else {
        return;
    };
    let yaml: Vec<String> = [
        "examples/kubernetes",
        "examples/monitoring",
        "examples/config",
    ]
    .iter()
    .flat_map(|d| files(d))
    .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
    .map(|p| p.display().to_string())
    .collect();
    assert!(yaml.len() >= 9, "{yaml:?}");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg("import sys, yaml\nfor f in sys.argv[1:]:\n    docs = [d for d in yaml.safe_load_all(open(f)) if d]\n    assert docs, f + ' is empty'\n    print(f, len(docs))")
        .args(&yaml)
        .output()
        .unwrap();
    common::assert_ok(&out);
}
