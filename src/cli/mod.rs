//! The command line: subcommands and their flags. Parsing only; the work
//! lives in the role folders. Flags that set a setting are not written out
//! here: they come from the settings table ([`flags`]), so a new setting's
//! flag, help text and default appear by adding its one field.

mod flags;
mod tools;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use flags::SettingFlags;
pub use tools::*;

use crate::config::{self, on, Config, ConfigError, LoadOptions, Role};

/// stellarflow turns Stellar ledgers into analytics-ready token-transfer data.
#[derive(Debug, Parser)]
#[command(
    name = "stellarflow",
    version,
    about = "Turn Stellar ledgers into analytics-ready token-transfer data",
    long_about = "Turn Stellar ledgers into analytics-ready token-transfer data.\n\n\
        Roles (source -> process -> sink) talk over Arrow Flight and register with a\n\
        flowctl-compatible control plane. `stellarflow pipeline` runs all of them.\n\n\
        Configuration layers, later wins: defaults < profiles/<name>.toml < --config FILE\n\
        < global env (FLOWCTL_ENDPOINT, ...) < component env (STELLAR_ARROW_SOURCE_...,\n\
        TTP_ARROW_PROCESSOR_..., ARROW_ANALYTICS_SINK_...) < flags.\n\
        `stellarflow config show --role ROLE` prints the effective values."
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the flowctl-compatible control plane (registry, health, discovery, flow control)
    Controlplane(RoleArgs<{ on::CONTROLPLANE }>),
    /// Read ledgers (data lake, Stellar RPC) and serve them over Arrow Flight
    Source(RoleArgs<{ on::SOURCE }>),
    /// Extract token-transfer (or contract-data) events and serve them over Arrow Flight
    Process(RoleArgs<{ on::PROCESS }>),
    /// Write events to Parquet, JSONL, CSV, PostgreSQL and a WebSocket feed
    Sink(RoleArgs<{ on::SINK }>),
    /// Start and supervise control plane, source, processor and sink
    Pipeline(PipelineArgs),
    /// Write a synthetic but valid Stellar data lake
    Generate(GenerateArgs),
    /// Measure the data path and the control plane side by side
    Bench(BenchArgs),
    /// Show the effective configuration and where each value came from
    Config(ConfigArgs),
}

/// The flags of a command that loads a configuration: where the layers
/// come from, and the settings flags of command `C` (a bit of [`on`]).
#[derive(Debug, Clone, Default, Args)]
pub struct RoleArgs<const C: u8> {
    /// Profile to apply: local, flowctl, development, production (or profiles/NAME.toml)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Configuration file (TOML, or YAML when it ends in .yaml/.yml)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub flags: SettingFlags<C>,
}

impl<const C: u8> RoleArgs<C> {
    /// Loads the configuration of `role` from the process environment and
    /// these flags.
    /// A command that serves (every one but `config show`) also refuses a
    /// port it would expose without authentication.
    pub fn load(&self, role: Role) -> Result<Config, ConfigError> {
        let config = config::load(
            role,
            LoadOptions {
                profile: self.profile.clone(),
                file: self.config.clone(),
                flags: self.flags.values.clone(),
                env: &config::process_env,
            },
        )?;
        if C != on::SHOW {
            crate::security::check_exposure(&config.settings, role).map_err(ConfigError)?;
        }
        Ok(config)
    }
}

/// `stellarflow pipeline`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  stellarflow pipeline
      generate 200 synthetic ledgers, write their token transfers to ./data as Parquet, print a summary
  stellarflow pipeline --profile production --datalake s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet \\
      --s3-anonymous --s3-region us-east-2 --network pubnet --start 58000000 --end 58000999 --output parquet:./pubnet
  stellarflow pipeline --rpc-url https://rpc.example.org --network testnet --output websocket
      follow testnet live and serve a WebSocket feed on the sink's HTTP address (/ws)
  stellarflow pipeline status | health | stop | logs sink --follow
      from another terminal (same --state-dir)"
)]
pub struct PipelineArgs {
    /// Inspect or control a running pipeline from another terminal
    #[command(subcommand)]
    pub action: Option<PipelineAction>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RoleArgs<{ on::PIPELINE }>,
}

/// `stellarflow pipeline <action>`.
#[derive(Debug, Subcommand)]
pub enum PipelineAction {
    /// Role, pid, uptime, restarts, health and current ledger of each child
    Status(PipelineStateArgs),
    /// Exit 0 only if every child is healthy
    Health(PipelineStateArgs),
    /// Stop a running pipeline (SIGTERM to the supervisor)
    Stop(PipelineStateArgs),
    /// Print a role's log (or all), optionally following it
    Logs(PipelineLogsArgs),
}

/// Where to find a running pipeline.
#[derive(Debug, Args)]
pub struct PipelineStateArgs {
    /// The pipeline's state directory [default: ./.stellarflow]
    #[arg(long, value_name = "DIR", default_value = ".stellarflow")]
    pub state_dir: PathBuf,
}

/// `stellarflow pipeline logs`.
#[derive(Debug, Args)]
pub struct PipelineLogsArgs {
    /// controlplane, source, processor or sink (default: all)
    pub role: Option<String>,
    /// Keep printing new lines
    #[arg(long, short)]
    pub follow: bool,
    /// The pipeline's state directory [default: ./.stellarflow]
    #[arg(long, value_name = "DIR", default_value = ".stellarflow")]
    pub state_dir: PathBuf,
}

/// `stellarflow config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// Config actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print every effective value and the layer that set it
    Show(ConfigShowArgs),
    /// Print every setting (key, environment variables, default, accepted
    /// values) as Markdown: the README's configuration reference
    Reference,
}

/// `config show`.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// controlplane, source, processor, sink or pipeline
    #[arg(long, value_name = "ROLE", default_value = "pipeline")]
    pub role: String,
    /// Output format
    #[arg(long, value_name = "text|json", default_value = "text")]
    pub format: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub layers: RoleArgs<{ on::SHOW }>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Catches two settings taking the same flag on one command, which
    /// clap only reports when the command is built.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
