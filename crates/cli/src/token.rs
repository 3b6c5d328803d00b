//! `switchboard token`: bearer tokens for switches, desks, supervisors and admins. The
//! token is printed once, on standard output; only its hash is kept, in the tokens file
//! the config names (`security.tokens`) or the one given with `--file`.

use std::{path::PathBuf, process::ExitCode};

use switchboard_config::security::{Grant, Role};
use switchboard_server::security::tokens;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Make a token, print it once and store its hash.
    New(New),
    /// List the tokens of the file: id, name, role, what each is bound to, when made.
    List(Where),
    /// Revoke a token by name or id; a running server refuses it within a second.
    Revoke(Revoke),
}

/// Which tokens file: the config's `security.tokens`, or `--file`.
#[derive(Debug, clap::Args)]
struct Where {
    /// Config file or directory naming the tokens file (`security.tokens`).
    #[arg(long, conflicts_with = "file")]
    config: Option<PathBuf>,
    /// The tokens file itself.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct New {
    /// What the token may do: switch, desk, supervisor or admin.
    #[arg(long)]
    role: String,
    /// Who holds it (letters, digits, - _ . @): shown in logs and the audit trail.
    #[arg(long)]
    name: String,
    /// A switch id a switch's token routes for (repeat for more).
    #[arg(long = "switch")]
    switches: Vec<String>,
    /// An agent a desk's token acts for (repeat for more; `*` for any agent).
    #[arg(long = "agent")]
    agents: Vec<String>,
    #[command(flatten)]
    at: Where,
}

#[derive(Debug, clap::Args)]
struct Revoke {
    /// The token's name or id.
    name: String,
    #[command(flatten)]
    at: Where,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::New(new) => {
            let Some(path) = tokens_file(&new.at)? else {
                return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
            };
            let grant = match Role::parse(&new.role)
                .and_then(|role| Grant::new(role, new.switches, new.agents))
            {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            match tokens::create(&path, &new.name, &grant) {
                Ok(made) => {
                    eprintln!(
                        "token {} for {} {:?} stored as a hash in {}; it is shown once, here:",
                        made.id,
                        grant.role,
                        new.name,
                        path.display()
                    );
                    println!("{}", made.token);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ tokens::TokenError::Argument(_)) => {
                    eprintln!("switchboard: {e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::List(at) => {
            let Some(path) = tokens_file(&at)? else {
                return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
            };
            let listed = tokens::list(&path)?;
            if listed.is_empty() {
                eprintln!("{}: no tokens", path.display());
            }
            for t in listed {
                println!(
                    "{}  {:<24} {:<10} {:<20} {}",
                    t.id, t.name, t.role, t.created, t.bound
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke(r) => {
            let Some(path) = tokens_file(&r.at)? else {
                return Ok(ExitCode::from(crate::EXIT_BAD_CONFIG));
            };
            if tokens::revoke(&path, &r.name)? {
                eprintln!("{}: token {:?} revoked", path.display(), r.name);
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "switchboard: {}: no token named {:?}",
                    path.display(),
                    r.name
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// The tokens file to use; `None` (after saying why) when the config is invalid.
fn tokens_file(at: &Where) -> anyhow::Result<Option<PathBuf>> {
    if let Some(file) = &at.file {
        return Ok(Some(file.clone()));
    }
    let Some(config) = &at.config else {
        anyhow::bail!(
            "say which tokens file: --config CONFIG (its security.tokens) or --file FILE"
        );
    };
    let config = match crate::config_or_default(Some(config)) {
        Ok(c) => c,
        Err(_) => return Ok(None),
    };
    match config.settings.security.tokens {
        Some(path) => Ok(Some(path)),
        None => anyhow::bail!(
            "the config names no tokens file: set security.tokens, or give --file FILE"
        ),
    }
}
