//! Flags that set settings, made from the settings table rather than
//! written out per command: each setting names the commands that take it
//! (`on` in `config/settings.rs`), and this module turns those rows into
//! clap arguments and, after parsing, into [`FlagValue`]s for the flag
//! layer. Values stay text here on purpose: the configuration validates
//! them, so a bad flag gets the same one-line error (exit 2) as a bad
//! environment variable or file key.

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::config::{on, FlagValue, Kind, Role, Setting, SETTINGS};

/// The settings flags of one command; `C` is its bit in [`on`].
#[derive(Debug, Clone, Default)]
pub struct SettingFlags<const C: u8> {
    /// The flags given, in table order.
    pub values: Vec<FlagValue>,
}

/// `--no-flowctl`: the one flag that is not a setting's own value.
const NO_FLOWCTL: &str = "no-flowctl";

fn settings_on(command: u8) -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().filter(move |s| s.commands & command != 0)
}

fn value_name(setting: &Setting) -> String {
    match setting.kind {
        Kind::Addr | Kind::Endpoint => "HOST:PORT".into(),
        Kind::Duration | Kind::Period => "DURATION".into(),
        Kind::Url => "URL".into(),
        Kind::LogFilter => "LEVEL".into(),
        Kind::Outputs => "KIND:TARGET".into(),
        Kind::Int { .. } | Kind::Float { .. } => "N".into(),
        Kind::Ledger => "LEDGER".into(),
        Kind::Enum(words) => words.join("|"),
        Kind::Bool => String::new(),
        Kind::Text | Kind::Secret | Kind::List => {
            let name = setting.name();
            if name == "network" {
                "NAME|PASSPHRASE".into()
            } else if name.ends_with("region") {
                "REGION".into()
            } else if name.ends_with("_dir") {
                "DIR".into()
            } else if name.ends_with("_url") || name == "datalake" || name.ends_with("endpoint") {
                "URL".into()
            } else {
                name.to_ascii_uppercase()
            }
        }
    }
}

/// The role whose configuration command `C` loads, if it is one role's.
fn role_of(command: u8) -> Option<Role> {
    match command {
        on::CONTROLPLANE => Some(Role::Controlplane),
        on::SOURCE => Some(Role::Source),
        on::PROCESS => Some(Role::Processor),
        on::SINK => Some(Role::Sink),
        _ => None,
    }
}

fn help(setting: &Setting, role: Option<Role>) -> String {
    let mut help = setting.help().to_string();
    if let Some(default) = setting.default.filter(|_| setting.kind != Kind::Bool) {
        help.push_str(&format!(" [default: {default}]"));
    }
    let env = match role {
        Some(role) if !setting.is_global() => setting.component_env(role),
        _ => setting.env.map(str::to_string),
    };
    if let Some(env) = env {
        help.push_str(&format!(" [env: {env}]"));
    }
    help
}

fn arg(setting: &'static Setting, role: Option<Role>) -> Arg {
    let arg = Arg::new(setting.key)
        .long(setting.flag())
        .help(help(setting, role));
    match setting.kind {
        Kind::Bool => arg.action(ArgAction::SetTrue),
        Kind::List | Kind::Outputs => arg
            .action(ArgAction::Append)
            .value_delimiter(',')
            .value_name(value_name(setting)),
        _ => arg.action(ArgAction::Set).value_name(value_name(setting)),
    }
}

impl<const C: u8> clap::Args for SettingFlags<C> {
    fn augment_args(mut command: Command) -> Command {
        for setting in settings_on(C) {
            command = command.arg(arg(setting, role_of(C)));
        }
        if C & on::DATA != 0 {
            command = command.arg(
                Arg::new(NO_FLOWCTL)
                    .long(NO_FLOWCTL)
                    .action(ArgAction::SetTrue)
                    .conflicts_with("flowctl.endpoint")
                    .help("do not register with a control plane"),
            );
        }
        if C & (on::SOURCE | on::PIPELINE) != 0 {
            command = command.mut_arg("source.rpc_url", |a| a.conflicts_with("source.datalake"));
        }
        command
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl<const C: u8> clap::FromArgMatches for SettingFlags<C> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut values = Vec::new();
        for setting in settings_on(C) {
            let flag = format!("--{}", setting.flag());
            match setting.kind {
                Kind::Bool => {
                    if matches.get_flag(setting.key) {
                        values.push(FlagValue::new(setting.key, flag, "true"));
                    }
                }
                Kind::List | Kind::Outputs => {
                    if let Some(items) = matches.get_many::<String>(setting.key) {
                        let items: Vec<String> = items.cloned().collect();
                        values.push(FlagValue::list(setting.key, flag, &items));
                    }
                }
                _ => {
                    if let Some(value) = matches.get_one::<String>(setting.key) {
                        // Naming a control plane turns flowctl on.
                        if setting.key == "flowctl.endpoint" {
                            values.push(FlagValue::new("flowctl.enabled", &flag, "true"));
                        }
                        values.push(FlagValue::new(setting.key, flag, value.as_str()));
                    }
                }
            }
        }
        if C & on::DATA != 0 && matches.get_flag(NO_FLOWCTL) {
            values.push(FlagValue::new("flowctl.enabled", "--no-flowctl", "false"));
        }
        Ok(SettingFlags { values })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}
