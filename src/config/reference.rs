//! `stellarflow config reference`: every setting as Markdown tables, one per
//! section, generated from the settings table. The README embeds this
//! output and a test keeps the two identical, so the documented names,
//! defaults and accepted values cannot drift from what the binary reads.

use super::settings::{Setting, GLOBAL_SECTIONS, SETTINGS};
use super::Role;

/// The environment variables that set `setting`, most general first. For
/// a shared setting the role overrides are written once as `<ROLE>_NAME`.
pub fn env_names(setting: &Setting) -> Vec<String> {
    let mut names: Vec<String> = setting.env.map(str::to_string).into_iter().collect();
    if setting.is_global() {
        if let Some(env) = setting.env {
            names.push(format!("<ROLE>_{env}"));
        }
        return names;
    }
    names.extend(
        Role::ALL
            .into_iter()
            .filter_map(|r| setting.component_env(r)),
    );
    names
}

fn section_note(section: &str) -> String {
    if GLOBAL_SECTIONS.contains(&section) {
        let prefixes: Vec<String> = [Role::Source, Role::Processor, Role::Sink]
            .into_iter()
            .map(|r| format!("`{}`", r.env_prefix()))
            .collect();
        format!(
            "Shared by every role. `<ROLE>_…` overrides the shared variable for one role; `<ROLE>` is {}.",
            prefixes.join(", ")
        )
    } else {
        "Read by this role only; `stellarflow pipeline` passes them to the child that owns them."
            .into()
    }
}

/// The Markdown reference.
pub fn markdown() -> String {
    let mut out = String::new();
    let mut section = "";
    for setting in SETTINGS {
        if setting.section() != section {
            section = setting.section();
            out.push_str(&format!(
                "\n#### `[{section}]`\n\n{}\n\n| Key | Environment | Default | Accepts | Meaning |\n|---|---|---|---|---|\n",
                section_note(section)
            ));
        }
        let env = env_names(setting)
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let default = setting
            .default
            .map(|d| {
                if d.is_empty() {
                    "(empty)".to_string()
                } else {
                    format!("`{d}`")
                }
            })
            .unwrap_or_else(|| "(unset)".into());
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            setting.name(),
            if env.is_empty() {
                "(flag or file only)".into()
            } else {
                env
            },
            default,
            setting.kind.allowed().replace('|', "\\|"),
            setting.help().replace('|', "\\|"),
        ));
    }
    out
}
