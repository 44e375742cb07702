//! Generates `src/stellar/walk/skip.rs`, the validating skippers of the
//! zero-copy XDR reader, from the XDR definitions that ship inside the
//! `stellar-xdr` crate we depend on (`xdr-definitions-json/xdr.json`).
//!
//! The test fails when the committed file differs from what the definitions
//! give, so a `stellar-xdr` upgrade cannot silently leave the fast reader on
//! an older protocol. To regenerate after an upgrade:
//!
//! ```sh
//! UPDATE_GENERATED=1 cargo test --release --test xdr_codegen
//! ```
//!
//! The skippers mirror how `stellar-xdr` reads each type, including what
//! it spends of the depth limit at each level (every `read_xdr` call costs
//! one level, primitives included) and what it rejects (unknown enum values
//! and union arms, option flags other than 0/1, lengths above a maximum,
//! non-zero padding). Only the types reachable from `LedgerCloseMetaBatch`
//! are generated.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

const TARGET: &str = "src/stellar/walk/skip.rs";
const ROOT: &str = "LedgerCloseMetaBatch";

/// The Rust crate maps these XDR typedefs to plain type aliases (no newtype,
/// so no depth level of their own).
const ALIASES: [(&str, &str); 4] = [
    ("int32", "int"),
    ("uint32", "unsigned_int"),
    ("int64", "hyper"),
    ("uint64", "unsigned_hyper"),
];

/// Union arms the Rust crate reads through a `Box` (one more depth level),
/// by (union, arm). Checked against the crate's source below.
const BOXED_ARMS: [(&str, &str); 1] = [("ClaimPredicate", "notPredicate")];

fn xdr_json() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let registry = home.join("registry/src");
    let version = stellar_xdr_version()?;
    for index in std::fs::read_dir(&registry).ok()?.flatten() {
        let candidate = index
            .path()
            .join(format!("stellar-xdr-{version}"))
            .join("xdr-definitions-json/xdr.json");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

/// The locked `stellar-xdr` version, from Cargo.lock.
fn stellar_xdr_version() -> Option<String> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"stellar-xdr\"" {
            let version = lines.next()?;
            return Some(
                version
                    .trim_start_matches("version = \"")
                    .trim_end_matches('"')
                    .to_string(),
            );
        }
    }
    None
}

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// What skipping a type costs when it has a fixed size and needs no
/// validation: (bytes, depth levels it needs).
type Trivial = Option<(usize, u32)>;

struct Gen<'a> {
    defs: BTreeMap<String, &'a Value>,
    trivial: BTreeMap<String, Trivial>,
}

fn pad(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn max_of(t: &Value, key: &str) -> Option<u64> {
    t.get(key).and_then(Value::as_u64)
}

impl<'a> Gen<'a> {
    fn alias(&self, name: &str) -> Option<&'static str> {
        ALIASES.iter().find(|(a, _)| *a == name).map(|(_, p)| *p)
    }

    /// Names of the definitions a type expression refers to.
    fn refs(&self, t: &Value, out: &mut Vec<String>) {
        match t["kind"].as_str() {
            Some("ref") => out.push(t["name"].as_str().unwrap_or_default().to_string()),
            Some("var_array") | Some("array") | Some("optional") => self.refs(&t["element"], out),
            _ => {}
        }
    }

    fn def_refs(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let Some(def) = self.defs.get(name) else {
            return out;
        };
        match def["kind"].as_str() {
            Some("typedef") => self.refs(&def["type"], &mut out),
            Some("struct") => {
                for f in def["fields"].as_array().into_iter().flatten() {
                    self.refs(&f["type"], &mut out);
                }
            }
            Some("union") => {
                self.refs(&def["discriminant"]["type"], &mut out);
                for a in def["arms"].as_array().into_iter().flatten() {
                    if !a["type"].is_null() {
                        self.refs(&a["type"], &mut out);
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn reachable(&self) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![ROOT.to_string()];
        while let Some(name) = stack.pop() {
            if self.alias(&name).is_some() || !seen.insert(name.clone()) {
                continue;
            }
            assert!(self.defs.contains_key(&name), "undefined XDR type {name}");
            stack.extend(self.def_refs(&name));
        }
        seen
    }

    /// Fixed size and depth of a type expression that needs no validation.
    fn trivial_expr(&mut self, t: &Value) -> Trivial {
        match t["kind"].as_str()? {
            "int" | "unsigned_int" => Some((4, 1)),
            "hyper" | "unsigned_hyper" => Some((8, 1)),
            // `stellar-xdr` reads any value as a bool (1 is true) and writes
            // it back as 0 or 1, so a bool is read to notice the difference.
            "bool" => None,
            "opaque_fixed" => {
                let n = max_of(t, "size")? as usize;
                (pad(n) == 0).then_some((n, 1))
            }
            "array" => {
                let (size, depth) = self.trivial_expr(&t["element"])?;
                Some((size * max_of(t, "count")? as usize, depth + 1))
            }
            "ref" => {
                let name = t["name"].as_str()?;
                match self.alias(name) {
                    Some(prim) => self.trivial_expr(&serde_json::json!({ "kind": prim })),
                    None => self.trivial_def(name),
                }
            }
            _ => None,
        }
    }

    fn trivial_def(&mut self, name: &str) -> Trivial {
        if let Some(known) = self.trivial.get(name) {
            return *known;
        }
        // Guards recursion: a recursive type is never fixed-size.
        self.trivial.insert(name.to_string(), None);
        let def = self.defs[name];
        let result = match def["kind"].as_str() {
            Some("typedef") => self.trivial_expr(&def["type"]).map(|(s, d)| (s, d + 1)),
            Some("struct") => {
                let mut size = 0;
                let mut depth = 0;
                let mut ok = true;
                for f in def["fields"].as_array().into_iter().flatten() {
                    match self.trivial_expr(&f["type"]) {
                        Some((s, d)) => {
                            size += s;
                            depth = depth.max(d);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some((size, depth + 1))
            }
            _ => None,
        };
        self.trivial.insert(name.to_string(), result);
        result
    }

    fn fn_name(name: &str) -> String {
        format!("skip_{}", snake(name))
    }

    /// Code that skips one value of type `t`.
    fn expr(&mut self, t: &Value, boxed: bool, indent: &str, out: &mut String) {
        if boxed {
            writeln!(out, "{indent}r.enter()?;").unwrap();
            self.expr(t, false, indent, out);
            writeln!(out, "{indent}r.leave();").unwrap();
            return;
        }
        if let Some((size, depth)) = self.trivial_expr(t) {
            writeln!(out, "{indent}r.skip({size}, {depth})?;").unwrap();
            return;
        }
        let kind = t["kind"].as_str().unwrap_or_default();
        match kind {
            "ref" => {
                let name = t["name"].as_str().unwrap_or_default();
                writeln!(out, "{indent}{}(r)?;", Self::fn_name(name)).unwrap();
            }
            "bool" => writeln!(out, "{indent}r.bool()?;").unwrap(),
            "opaque_fixed" => panic!(
                "opaque[{}] needs padding checks the reader does not have yet ({t})",
                t["size"]
            ),
            "opaque_var" | "string" => {
                let max = max_of(t, "max_size").unwrap_or(u64::from(u32::MAX));
                writeln!(out, "{indent}r.opaque_var({max})?;").unwrap();
            }
            "var_array" => {
                let max = max_of(t, "max_count").unwrap_or(u64::from(u32::MAX));
                writeln!(out, "{indent}r.enter()?;").unwrap();
                writeln!(out, "{indent}let n = r.len({max})?;").unwrap();
                match self.trivial_expr(&t["element"]) {
                    Some((size, depth)) => {
                        writeln!(out, "{indent}r.skip_many(n, {size}, {depth})?;").unwrap()
                    }
                    None => {
                        writeln!(out, "{indent}for _ in 0..n {{").unwrap();
                        self.expr(&t["element"], false, &format!("{indent}    "), out);
                        writeln!(out, "{indent}}}").unwrap();
                    }
                }
                writeln!(out, "{indent}r.leave();").unwrap();
            }
            "array" => {
                let count = max_of(t, "count").unwrap_or_default();
                writeln!(out, "{indent}r.enter()?;").unwrap();
                writeln!(out, "{indent}for _ in 0..{count} {{").unwrap();
                self.expr(&t["element"], false, &format!("{indent}    "), out);
                writeln!(out, "{indent}}}").unwrap();
                writeln!(out, "{indent}r.leave();").unwrap();
            }
            "optional" => {
                writeln!(out, "{indent}r.enter()?;").unwrap();
                writeln!(out, "{indent}if r.present()? {{").unwrap();
                self.expr(&t["element"], false, &format!("{indent}    "), out);
                writeln!(out, "{indent}}}").unwrap();
                writeln!(out, "{indent}r.leave();").unwrap();
            }
            other => panic!("no skipper for XDR type kind {other:?} in {t}"),
        }
    }

    fn def(&mut self, name: &str, out: &mut String) {
        let def = self.defs[name];
        let f = Self::fn_name(name);
        let source = def["source"].as_str().unwrap_or_default();
        let first = source.lines().next().unwrap_or_default().trim();
        let first = if first.contains(name) {
            first.to_string()
        } else {
            format!("{name}: {first}")
        };
        match def["kind"].as_str().unwrap_or_default() {
            "enum" => {
                let values: Vec<String> = def["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| m["value"].as_i64().unwrap_or_default().to_string())
                    .collect();
                writeln!(out, "/// `{first}`: reads and checks the value.").unwrap();
                writeln!(
                    out,
                    "pub(crate) fn {f}(r: &mut Reader<'_>) -> Result<i32, Error> {{"
                )
                .unwrap();
                writeln!(out, "    r.enter()?;").unwrap();
                writeln!(out, "    let v = r.i32()?;").unwrap();
                writeln!(out, "    if !matches!(v, {}) {{", values.join(" | ")).unwrap();
                writeln!(out, "        return Err(Error::Invalid);").unwrap();
                writeln!(out, "    }}").unwrap();
                writeln!(out, "    r.leave();").unwrap();
                writeln!(out, "    Ok(v)").unwrap();
                writeln!(out, "}}\n").unwrap();
                return;
            }
            "typedef" | "struct" | "union" => {}
            other => panic!("unexpected definition kind {other} for {name}"),
        }
        writeln!(out, "/// `{first}`").unwrap();
        writeln!(
            out,
            "pub(crate) fn {f}(r: &mut Reader<'_>) -> Result<(), Error> {{"
        )
        .unwrap();
        if let Some((size, depth)) = self.trivial_def(name) {
            writeln!(out, "    r.skip({size}, {depth})").unwrap();
            writeln!(out, "}}\n").unwrap();
            return;
        }
        writeln!(out, "    r.enter()?;").unwrap();
        match def["kind"].as_str().unwrap_or_default() {
            "typedef" => self.expr(&def["type"], false, "    ", out),
            "struct" => {
                // Adjacent fields that need no checks are skipped in one step.
                let mut run: Option<(usize, u32)> = None;
                for field in def["fields"].as_array().into_iter().flatten() {
                    match self.trivial_expr(&field["type"]) {
                        Some((size, depth)) => {
                            let (s, d) = run.unwrap_or((0, 0));
                            run = Some((s + size, d.max(depth)));
                        }
                        None => {
                            if let Some((size, depth)) = run.take() {
                                writeln!(out, "    r.skip({size}, {depth})?;").unwrap();
                            }
                            self.expr(&field["type"], false, "    ", out);
                        }
                    }
                }
                if let Some((size, depth)) = run {
                    writeln!(out, "    r.skip({size}, {depth})?;").unwrap();
                }
            }
            "union" => {
                let disc = &def["discriminant"]["type"];
                match disc["kind"].as_str() {
                    Some("int") => writeln!(out, "    let d = r.i32()?;").unwrap(),
                    Some("ref") => writeln!(
                        out,
                        "    let d = {}(r)?;",
                        Self::fn_name(disc["name"].as_str().unwrap_or_default())
                    )
                    .unwrap(),
                    other => panic!("union {name} switches on {other:?}"),
                }
                writeln!(out, "    match d {{").unwrap();
                for arm in def["arms"].as_array().into_iter().flatten() {
                    let cases: Vec<String> = arm["cases"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| c["value"].as_i64().unwrap_or_default().to_string())
                        .collect();
                    let arm_name = arm["name"].as_str().unwrap_or_default();
                    if arm["type"].is_null() {
                        writeln!(out, "        {} => {{}}", cases.join(" | ")).unwrap();
                    } else {
                        let boxed = BOXED_ARMS.contains(&(name, arm_name));
                        writeln!(out, "        {} => {{", cases.join(" | ")).unwrap();
                        // An optional boxed arm is `Option<Box<T>>`: the box
                        // sits inside the option.
                        if boxed && arm["type"]["kind"] == "optional" {
                            writeln!(out, "            r.enter()?;").unwrap();
                            writeln!(out, "            if r.present()? {{").unwrap();
                            self.expr(&arm["type"]["element"], true, "                ", out);
                            writeln!(out, "            }}").unwrap();
                            writeln!(out, "            r.leave();").unwrap();
                        } else {
                            self.expr(&arm["type"], boxed, "            ", out);
                        }
                        writeln!(out, "        }}").unwrap();
                    }
                }
                writeln!(out, "        _ => return Err(Error::Invalid),").unwrap();
                writeln!(out, "    }}").unwrap();
            }
            _ => unreachable!(),
        }
        writeln!(out, "    r.leave();").unwrap();
        writeln!(out, "    Ok(())").unwrap();
        writeln!(out, "}}\n").unwrap();
    }
}

/// The crate's own read code boxes exactly the arms listed in `BOXED_ARMS`
/// among the reachable types.
fn check_boxes(json: &Path, reachable: &BTreeSet<String>) {
    let src = json
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("src/generated"));
    let Some(src) = src.filter(|s| s.is_dir()) else {
        return;
    };
    let rust_names: BTreeSet<String> = reachable.iter().map(|n| snake(n)).collect();
    for entry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let path = entry.path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !rust_names.contains(&stem) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Some(read) = text.split("impl ReadXdr for").nth(1) else {
            continue;
        };
        let body = read.split("impl WriteXdr for").next().unwrap_or_default();
        if body.contains("Box") {
            assert!(
                BOXED_ARMS.iter().any(|(u, _)| snake(u) == stem),
                "stellar-xdr reads {stem} through a Box: add it to BOXED_ARMS"
            );
        }
    }
}

fn generate(json_path: &Path) -> String {
    let text = std::fs::read_to_string(json_path).expect("read xdr.json");
    let json: Value = serde_json::from_str(&text).expect("parse xdr.json");
    let defs: BTreeMap<String, &Value> = json["definitions"]
        .as_array()
        .expect("definitions")
        .iter()
        .filter(|d| d["kind"] != "const")
        .map(|d| (d["name"].as_str().unwrap_or_default().to_string(), d))
        .collect();
    let mut gen = Gen {
        defs,
        trivial: BTreeMap::new(),
    };
    let reachable = gen.reachable();
    check_boxes(json_path, &reachable);
    let mut out = String::new();
    out.push_str(
        "// @generated by tests/xdr_codegen.rs from stellar-xdr's xdr-definitions-json/xdr.json.\n\
         // Do not edit: run `UPDATE_GENERATED=1 cargo test --release --test xdr_codegen`.\n\n\
         //! Validating skippers for every XDR type reachable from\n\
         //! `LedgerCloseMetaBatch`: each walks one value in place, spending depth\n\
         //! and rejecting input exactly as `stellar-xdr` reads it, and allocates\n\
         //! nothing. Fixed-size types that need no checks are skipped in one step.\n\n\
         #![allow(clippy::all, missing_docs, dead_code)]\n\n\
         use super::reader::{Error, Reader};\n\n",
    );
    for name in &reachable {
        if gen.alias(name).is_none() {
            gen.def(name, &mut out);
        }
    }
    out
}

#[test]
fn generated_skippers_match_the_xdr_definitions() {
    let Some(json) = xdr_json() else {
        common::skip(&format!("stellar-xdr's xdr-definitions-json/xdr.json is not in the cargo registry; cannot check {TARGET}"));
        return;
    };
    let generated = generate(&json);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(TARGET);
    if std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1") {
        std::fs::write(&target, &generated).expect("write generated file");
        return;
    }
    // The file is excluded from rustfmt (`#[rustfmt::skip]` on its module),
    // so it must equal the generator's output byte for byte.
    let committed = std::fs::read_to_string(&target).unwrap_or_default();
    assert!(
        committed == generated,
        "{TARGET} is out of date with {}: run `UPDATE_GENERATED=1 cargo test --release --test xdr_codegen`",
        json.display()
    );
}
