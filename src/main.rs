//! The `stellarflow` executable: parses the command line, loads the role's
//! configuration (exit code 2 on a bad value) and dispatches.

use std::process::ExitCode;

use clap::Parser;
use stellarflow::cli::{Cli, Command, ConfigAction};
use stellarflow::config::{Config, ConfigError, LogFormat, Role};
use stellarflow::telemetry::init_logging;

fn main() -> ExitCode {
    let cli = Cli::parse();
    stellarflow::runtime::install_tls_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config_error) => {
                eprintln!("stellarflow: {config_error}");
                ExitCode::from(2)
            }
            None => fail(&e),
        },
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("stellarflow: error: {e:#}");
    ExitCode::FAILURE
}

fn with_logging(config: Result<Config, ConfigError>) -> anyhow::Result<Config> {
    let config = config?;
    init_logging(config.settings.log.format, &config.settings.log.level);
    Ok(config)
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Controlplane(args) => {
            let config = with_logging(args.load(Role::Controlplane))?;
            stellarflow::controlplane::run(config).await?;
        }
        Command::Source(args) => {
            let config = with_logging(args.load(Role::Source))?;
            stellarflow::source::run(config).await?;
        }
        Command::Process(args) => {
            let config = with_logging(args.load(Role::Processor))?;
            stellarflow::processor::run(config).await?;
        }
        Command::Sink(args) => {
            let config = with_logging(args.load(Role::Sink))?;
            stellarflow::sink::run(config).await?;
        }
        Command::Pipeline(args) => return stellarflow::pipeline::run(args).await,
        Command::Generate(args) => {
            init_logging(LogFormat::Text, "info");
            tokio::task::block_in_place(|| stellarflow::generate::run(&args))?
        }
        Command::Bench(args) => {
            init_logging(LogFormat::Text, "warn");
            stellarflow::bench::run(args).await?
        }
        Command::Config(args) => match args.action {
            ConfigAction::Reference => print!("{}", stellarflow::config::reference_markdown()),
            ConfigAction::Show(show) => {
                let role = Role::parse(&show.role).ok_or_else(|| {
                    ConfigError(format!(
                        "invalid value for --role: {:?} (expected controlplane, source, processor, sink or pipeline)",
                        show.role
                    ))
                })?;
                let config = show.layers.load(role)?;
                match show.format.as_str() {
                    "json" => println!("{}", config.render_json()),
                    "text" => print!("{}", config.render()),
                    other => {
                        return Err(ConfigError(format!(
                            "invalid value for --format: {other:?} (expected text or json)"
                        ))
                        .into())
                    }
                }
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
