//! `stellarflow pipeline`: runs control plane, source, processor and sink
//! as child processes of this executable and supervises them; its
//! subcommands inspect or stop a running pipeline from another terminal.

mod child;
mod commands;
mod plan;
mod progress;
mod ready;
mod state;
mod supervisor;

pub use plan::{plan, ChildSpec, Plan};
pub use state::{PipelineState, StateDir};
pub use supervisor::Outcome;

use std::process::ExitCode;

use crate::cli::{PipelineAction, PipelineArgs};
use crate::config::Role;
use crate::telemetry::init_logging;

/// Runs `stellarflow pipeline …`.
pub async fn run(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let ok = match args.action {
        Some(PipelineAction::Status(a)) => commands::status(&a.state_dir).await?,
        Some(PipelineAction::Health(a)) => commands::health_check(&a.state_dir).await?,
        Some(PipelineAction::Stop(a)) => commands::stop(&a.state_dir).await?,
        Some(PipelineAction::Logs(a)) => {
            commands::logs(&a.state_dir, a.role.as_deref(), a.follow).await?
        }
        None => {
            let mut config = args.run.load(Role::Pipeline).map_err(anyhow::Error::new)?;
            init_logging(config.settings.log.format, &config.settings.log.level);
            let plan = tokio::task::block_in_place(|| plan::plan(&config))?;
            // The supervisor's own clients (readiness, progress) speak to
            // the children as the children speak to each other.
            config.settings.security = plan.security.clone();
            return match supervisor::run(plan, config).await? {
                Outcome::Finished => Ok(ExitCode::SUCCESS),
                Outcome::Stopped { clean: true } => {
                    tracing::info!("pipeline stopped cleanly");
                    Ok(ExitCode::SUCCESS)
                }
                Outcome::Stopped { clean: false } => {
                    eprintln!("stellarflow: the pipeline stopped, but not every child stopped cleanly (see the logs)");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
